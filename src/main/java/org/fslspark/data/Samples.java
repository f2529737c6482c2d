package org.fslspark.data;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A dataset a client trains on or the driver evaluates on: {@link LabeledImages} (a label per image) or
 * {@link TokenSequences} (next-token targets per position). {@link #size()} counts samples (images, sequences),
 * never targets: a sequence of {@code t} inputs has {@code t} targets.
 */
public interface Samples {
    /** Number of samples. */
    int size();

    /** The inputs of the samples at {@code indices}: [b, c, h, w] pixels or [b, t] token ids (as floats). */
    INDArray features(int[] indices);

    /** The targets of the samples at {@code indices}, sample-major: b labels, or b * t next tokens. */
    int[] labels(int[] indices);
}
