"""How hard are the synthesised datasets for plain pixel differencing? Prints, per dataset and
threshold tau (0-255 max channel difference), the mean per-image F1 on pairs with an edit and the
false-positive pixel rate on all-zero (calibration) pairs. A probe of the data, not the evaluation
stage: ``python scripts/probe_pixdiff.py data/synth/edit data/synth/calib``."""

import sys

import numpy as np

from sigma.data.dataset import EditPairDataset


def main(datasets: list[str], taus=(10, 20, 40)) -> None:
    for dataset in datasets:
        ds = EditPairDataset(dataset)
        for tau in taus:
            f1, fp = [], []
            for item in ds:
                diff = (item["original"] - item["edited"]).abs().amax(0).numpy() * 255
                pred, truth = diff > tau, item["mask"][0].numpy() > 0.5
                if truth.any():
                    f1.append(2 * (pred & truth).sum() / (pred.sum() + truth.sum()))
                else:
                    fp.append(pred.mean())
            f1_text = f"{np.mean(f1):.3f}" if f1 else "-"
            fp_text = f"{np.mean(fp):.3f}" if fp else "-"
            print(f"{dataset}\ttau={tau}\tF1={f1_text}\tFP-rate={fp_text}\tpairs={len(ds)}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["data/synth/inpaint", "data/synth/edit", "data/synth/calib"])
