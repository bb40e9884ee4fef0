"""Threads per op and search loops per batch for decoding on a CPU.

A decoding step is hundreds of small ops (a 128-row batch matmul, a
layer normalisation over 256 features). Splitting each across the cores
costs more than it saves on a small machine, and a step is mostly a chain
of ops, so a second core has little to do. On 2 cores, one thread per op
gives 1.14× the beam-search throughput; with each batch also split into
one part per core, searched by its own loop in the same graph
(`decoding.decode(..., parallel_loops)`), 1.5×, with the same
translations (docs/benchmarks.md). The command line's decoding commands
set `decoding_intra_op_threads()` unless `--intra-op-threads` says
otherwise, and a `Translator` made in a process with one thread per op
splits its batches into `decoding_loops()`.

The threads are per process and only take effect before TensorFlow runs
its first op; TF Serving has them as `--tensorflow_intra_op_parallelism`.
"""

import os

# Machines up to this many cores decode fastest with one thread per op (measured on 2 cores).
ONE_THREAD_PER_OP_UP_TO_CORES = 2


def decoding_intra_op_threads(cores=None):
    """The intra-op threads that decode fastest on a machine with `cores` cores (default: this one's).

    Returns:
        1 (each op on one thread) on machines with at most 2 cores, where
        it was measured to be faster; else 0, TensorFlow's default (each op
        may use every core).

    Example:
    >>> decoding_intra_op_threads(cores=2), decoding_intra_op_threads(cores=16)
    (1, 0)
    """
    cores = os.cpu_count() if cores is None else cores
    return 1 if cores is not None and cores <= ONE_THREAD_PER_OP_UP_TO_CORES else 0


def decoding_loops(cores=None, intra_op_threads=None):
    """How many parts a `Translator` splits each batch into, searched side by side (`decoding.decode`).

    Args:
        cores: the machine's cores (default: this one's).
        intra_op_threads: the threads each op may use (default: this
            process's TensorFlow setting).

    Returns:
        One per core on a machine with at most 2 cores whose ops run on one
        thread each (there each core runs its own part: about 1.5× the
        beam-search throughput of one loop; with every core per op, the
        split gives nothing); else 1.

    Example:
    >>> decoding_loops(cores=2, intra_op_threads=1), decoding_loops(cores=2, intra_op_threads=0)
    (2, 1)
    """
    cores = os.cpu_count() if cores is None else cores
    if intra_op_threads is None:
        import tensorflow as tf

        intra_op_threads = tf.config.threading.get_intra_op_parallelism_threads()
    return cores if decoding_intra_op_threads(cores) == 1 and intra_op_threads == 1 else 1


def use_intra_op_threads(threads):
    """Sets the threads each TensorFlow op may use in this process, if its runtime has not started.

    Args:
        threads: an int >= 0; 0 is TensorFlow's default (every core).

    Returns:
        True when set (or already so); False when TensorFlow already ran an
        op with another setting, which then stays as it is.

    Example:
    >>> use_intra_op_threads(1)  # first thing in a serving process  # doctest: +SKIP
    True
    """
    import tensorflow as tf

    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise ValueError(f"`threads` must be an integer >= 0. Received: threads={threads!r}")
    if tf.config.threading.get_intra_op_parallelism_threads() == threads:
        return True
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:  # "cannot be modified after initialization"
        return False
    return True
