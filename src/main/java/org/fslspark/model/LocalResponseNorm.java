package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Local response normalisation across channels (NCHW):
 * {@code y = x / (bias + alpha * sum_{|c'-c| <= radius} x_c'^2)^beta}, libnd4j's {@code lrn}.
 * PyTorch's LocalResponseNorm(size, alpha_t) equals radius = (size-1)/2, alpha = alpha_t / size.
 */
public final class LocalResponseNorm extends Layer {
    private final int radius;
    private final double bias;
    private final double alpha;
    private final double beta;
    private INDArray input;

    public LocalResponseNorm(int radius, double bias, double alpha, double beta) {
        this.radius = radius;
        this.bias = bias;
        this.alpha = alpha;
        this.beta = beta;
    }

    @Override
    public long[] outputShape(long[] s) {
        return s;
    }

    @Override
    public INDArray forward(INDArray x) {
        input = x;
        INDArray y = buffer("out", x.dataType(), x.shape());
        return Ops.execInto("lrn", new INDArray[]{x}, new INDArray[]{y}, new int[]{radius}, bias, alpha, beta)[0];
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        INDArray g = buffer("gradIn", input.dataType(), input.shape());
        return Ops.execInto("lrn_bp", new INDArray[]{input, gradOutput}, new INDArray[]{g}, new int[]{radius},
                bias, alpha, beta)[0];
    }

    @Override
    public void clearCache() {
        input = null;
    }

    @Override
    public String describe() {
        return "lrn" + (2 * radius + 1);
    }
}
