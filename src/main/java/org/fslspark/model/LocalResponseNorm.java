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
        return Ops.exec1("lrn", new INDArray[]{x}, new int[]{radius}, bias, alpha, beta);
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        return Ops.exec1("lrn_bp", new INDArray[]{input, gradOutput}, new int[]{radius}, bias, alpha, beta);
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
