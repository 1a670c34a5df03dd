"""Write the assignments' expected values (nsthelpers/grading/expected.npz) from the bundled caffe VGG19, offline.

Run it only when a check's inputs change (tests/test_assignments.py recomputes the values and compares):
    PYTHONPATH=. NSTHELPERS_OFFLINE=1 python assignments/make_expected.py
"""
import numpy as np
import torch

from nsthelpers.grading import expected as grading
from nsthelpers.vgg import load_vgg19


def main() -> None:
    torch.manual_seed(0)
    arrays = grading.compute_expected(load_vgg19("caffe"))
    np.savez_compressed(grading.DATA_FILE, **arrays)
    size = grading.DATA_FILE.stat().st_size
    print(f"wrote {len(arrays)} arrays to {grading.DATA_FILE} ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
