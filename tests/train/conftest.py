"""Tiny models run fastest on one thread; with several busy cores, torch's thread pool thrashes."""

import os

import pytest

os.environ["OMP_NUM_THREADS"] = "1"  # subprocesses (kill -9, torchrun) inherit this


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
