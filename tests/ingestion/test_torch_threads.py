import torch

from ingestion.embedding import torch_threads_apply


def test_torch_threads_setting_limits_intra_op_threads(settings):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        settings.TORCH_THREADS = 0
        torch_threads_apply()
        assert torch.get_num_threads() == 2  # 0 leaves torch's own choice
        settings.TORCH_THREADS = 1
        torch_threads_apply()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
