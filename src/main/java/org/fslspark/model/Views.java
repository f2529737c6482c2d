package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** Shaped views into a flat [1, n] parameter or gradient vector. */
final class Views {
    private Views() {
    }

    static INDArray slice(INDArray flat, long offset, long length, long... shape) {
        INDArray view = flat.get(NDArrayIndex.point(0), NDArrayIndex.interval(offset, offset + length));
        INDArray shaped = view.reshape('c', shape);
        if (shaped.data().address() != flat.data().address()) {
            // A copy here would silently detach the layer from the flat vector.
            throw new IllegalStateException("reshape copied a parameter view");
        }
        return shaped;
    }
}
