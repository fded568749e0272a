"""The one writer of the converters' and fixture tools' safetensors files: float32 arrays and
string metadata, written to a temporary file beside the target and renamed over it, so that an
interrupted conversion never leaves a half-written file where the workbench looks."""

import os
import tempfile


def write(tensors, path, metadata):
    """Writes `tensors` (name -> numpy array) with `metadata` (str -> str) to `path` atomically."""
    import numpy as np
    from safetensors.numpy import save_file

    arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".partial")
    os.close(fd)
    try:
        save_file(arrays, tmp, metadata=metadata)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
