import torch

from runtime.threads import available_cores, torch_threads_apply


def test_embedding_threads_setting_limits_torch_intra_op_threads(settings):
    before = torch.get_num_threads()
    try:
        settings.EMBEDDING_THREADS = 1
        torch_threads_apply()
        assert torch.get_num_threads() == 1
        settings.EMBEDDING_THREADS = 0  # 0: the cores this process may use
        torch_threads_apply()
        assert torch.get_num_threads() == available_cores()
    finally:
        torch.set_num_threads(before)
