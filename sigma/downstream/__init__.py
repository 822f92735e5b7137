"""The downstream experiment: do detectors trained on SIGMA's masks beat those trained on other labels
of the same pairs? Labels (``labels.py``), detectors trained on them (``train.py``), scored
(``evaluate.py``) and tabulated (``report.py``); ``docs/downstream.md``."""
