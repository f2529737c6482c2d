package org.fslspark.algorithm;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One minibatch of a client's private data: inputs and integer targets, sample-major. An image batch has a label
 * per sample; a sequence batch ([b, t] token ids) has t next-token targets per sample.
 */
public record Batch(INDArray features, int[] labels) {
    /** Samples in the batch (images, sequences), not targets. */
    public int size() {
        return (int) features.size(0);
    }
}
