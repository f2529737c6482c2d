package org.fslspark.algorithm;

import org.nd4j.linalg.api.ndarray.INDArray;

/** One minibatch of a client's private data: inputs and integer targets. */
public record Batch(INDArray features, int[] labels) {
    public int size() {
        return labels.length;
    }
}
