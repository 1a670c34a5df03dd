"""The graded assignments' checks (``assignments/``): ``expected`` (the engine: expected values in
``expected.npz``, mistakes students make, clear messages) and ``checks`` (one check per graded function).
A front end: imports the core and the feature subpackages whose functions it grades.
"""
