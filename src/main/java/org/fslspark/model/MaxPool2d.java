package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;

/** Max pooling over NCHW activations (libnd4j maxpool2d, oneDNN). */
public final class MaxPool2d extends Layer {
    private final int kernel;
    private final int stride;
    private final int padding;
    private INDArray input;

    public MaxPool2d(int kernel, int stride, int padding) {
        this.kernel = kernel;
        this.stride = stride;
        this.padding = padding;
    }

    private int[] args() {
        // kH, kW, sH, sW, pH, pW, dH, dW, sameMode=0, extraParam0 (unused for max), dataFormat=NCHW
        return new int[]{kernel, kernel, stride, stride, padding, padding, 1, 1, 0, 0, 0};
    }

    @Override
    public long[] outputShape(long[] s) {
        return new long[]{s[0], (s[1] + 2L * padding - kernel) / stride + 1, (s[2] + 2L * padding - kernel) / stride + 1};
    }

    @Override
    public INDArray forward(INDArray x) {
        input = x;
        long[] o = outputShape(new long[]{x.size(1), x.size(2), x.size(3)});
        INDArray y = buffer("out", x.dataType(), x.size(0), o[0], o[1], o[2]);
        return Ops.execInto("maxpool2d", new INDArray[]{x}, new INDArray[]{y}, args())[0];
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        INDArray g = buffer("gradIn", input.dataType(), input.shape());
        return Ops.execInto("maxpool2d_bp", new INDArray[]{input, gradOutput}, new INDArray[]{g}, args())[0];
    }

    @Override
    public void clearCache() {
        input = null;
    }

    @Override
    public String describe() {
        return "maxpool" + kernel + "/" + stride;
    }
}
