package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;

/** [b, ...] to [b, prod(...)]. */
public final class Flatten extends Layer {
    private long[] inputShape;

    @Override
    public long[] outputShape(long[] s) {
        long n = 1;
        for (long d : s) {
            n *= d;
        }
        return new long[]{n};
    }

    @Override
    public INDArray forward(INDArray x) {
        inputShape = x.shape();
        return x.reshape('c', x.size(0), x.length() / x.size(0));
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        return gradOutput.reshape('c', inputShape);
    }

    @Override
    public String describe() {
        return "flatten";
    }
}
