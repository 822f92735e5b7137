"""The review loop: look at an annotation run's masks, accept or reject them, export what was accepted."""
