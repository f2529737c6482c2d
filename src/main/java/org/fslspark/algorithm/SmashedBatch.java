package org.fslspark.algorithm;

import org.nd4j.linalg.api.ndarray.INDArray;

/** What a client uploads: the activations at the cut for one minibatch and its labels. */
public record SmashedBatch(int client, long iteration, INDArray activations, int[] labels) {
}
