package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;

/** max(x, 0). */
public final class Relu extends Layer {
    private INDArray input;

    @Override
    public long[] outputShape(long[] s) {
        return s;
    }

    @Override
    public INDArray forward(INDArray x) {
        input = x;
        return Ops.exec1("relu", new INDArray[]{x}, new int[0], 0.0);
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        return Ops.exec1("relu_bp", new INDArray[]{input, gradOutput}, new int[0], 0.0);
    }

    @Override
    public void clearCache() {
        input = null;
    }

    @Override
    public String describe() {
        return "relu";
    }
}
