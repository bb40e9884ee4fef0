"""A scan over time whose per-step outputs may differ in structure from its carry.

`keras.ops.scan` on TensorFlow requires the outputs to mirror the carry; the
decoders need (carry=state, outputs=(output, weights)), so this small loop uses
`tf.while_loop` and `TensorArray`s directly. It works eagerly, under
`tf.function` and with `jit_compile=True`.
"""

import tensorflow as tf


def scan_time(step_fn, initial_carry, inputs):
    """Runs `carry, outputs = step_fn(carry, inputs[t])` for t = 0..T-1.

    Args:
        step_fn: `(carry, x_t) -> (carry, outputs)`; outputs a nested structure.
        initial_carry: nested structure of tensors.
        inputs: time-major tensor `(time, batch, ...)` with at least one step.

    Returns:
        `(final_carry, stacked_outputs)`, each output stacked time-major `(time, ...)`.
    """
    inputs = tf.convert_to_tensor(inputs)
    length = tf.shape(inputs)[0]
    # Step 0 runs outside the loop: it tells the outputs' structure, shapes and dtypes.
    carry, first_outputs = step_fn(initial_carry, inputs[0])
    flat_first = tf.nest.flatten(first_outputs)
    arrays = [tf.TensorArray(t.dtype, size=length, element_shape=t.shape) for t in flat_first]
    arrays = [a.write(0, t) for a, t in zip(arrays, flat_first)]

    def body(t, carry, arrays):
        carry, outputs = step_fn(carry, inputs[t])
        arrays = [a.write(t, o) for a, o in zip(arrays, tf.nest.flatten(outputs))]
        return t + 1, carry, arrays

    # maximum_iterations bounds the gradient accumulators, which XLA needs.
    _, carry, arrays = tf.while_loop(
        lambda t, *_: t < length, body, (tf.constant(1), carry, arrays), maximum_iterations=length - 1
    )
    outputs = tf.nest.pack_sequence_as(first_outputs, [a.stack() for a in arrays])
    return carry, outputs
