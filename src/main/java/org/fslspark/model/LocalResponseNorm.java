package org.fslspark.model;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.api.ops.impl.scalar.Pow;

import java.util.HashMap;
import java.util.Map;

/**
 * Local response normalisation across channels (NCHW), TensorFlow's definition:
 * {@code y = x * d^-beta, d = bias + alpha * sum_{|c'-c| <= radius} x_c'^2}.
 * PyTorch's LocalResponseNorm(size, alpha_t) equals radius = (size-1)/2, alpha = alpha_t / size.
 *
 * <p>Built from libnd4j primitives rather than its {@code lrn}/{@code lrn_bp} ops: in 1.0.0-M2.1
 * {@code lrn} does not compute this formula and {@code lrn_bp} is not the gradient of {@code lrn}
 * (both found by this layer's finite-difference test). The sum over the channel window is a 1x1
 * convolution with a 0/1 band matrix, which runs on oneDNN.
 */
public final class LocalResponseNorm extends Layer {
    private final int radius;
    private final double bias;
    private final double alpha;
    private final double beta;
    private final Map<String, INDArray> bands = new HashMap<>();
    private INDArray input;
    private INDArray output;
    private INDArray d;
    private INDArray dPowMinusBeta;

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

    /** Weights [C, C, 1, 1] with 1 where |c - c'| <= radius: conv2d with it sums each channel window. */
    private INDArray band(DataType type, long channels) {
        return bands.computeIfAbsent(type + "/" + channels, k -> {
            INDArray w = Nd4j.zeros(type, channels, channels, 1, 1);
            for (long c = 0; c < channels; c++) {
                for (long c2 = Math.max(0, c - radius); c2 <= Math.min(channels - 1, c + radius); c2++) {
                    w.putScalar(new long[]{c, c2, 0, 0}, 1.0);
                }
            }
            return w;
        });
    }

    /** Sum over each channel's window, written into {@code into}. */
    private INDArray windowSum(INDArray x, INDArray into) {
        // kH, kW, sH, sW, pH, pW, dH, dW, sameMode=0, dataFormat=NCHW, weightFormat=[oC,iC,kH,kW]
        int[] args = {1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1};
        return Ops.execInto("conv2d", new INDArray[]{x, band(x.dataType(), x.size(1))}, new INDArray[]{into}, args)[0];
    }

    @Override
    public INDArray forward(INDArray x) {
        input = x;
        DataType t = x.dataType();
        long[] s = x.shape();
        INDArray sq = x.mul(x, buffer("sq", t, s));
        d = windowSum(sq, buffer("d", t, s)).muli(alpha).addi(bias);
        dPowMinusBeta = buffer("dPow", t, s);
        Nd4j.exec(new Pow(d, dPowMinusBeta, -beta));
        output = x.mul(dPowMinusBeta, buffer("out", t, s));
        return output;
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        // dL/dx_j = g_j d_j^-beta - 2 alpha beta x_j sum_{c in window(j)} g_c y_c / d_c (the window is symmetric)
        DataType t = input.dataType();
        long[] s = input.shape();
        INDArray gy = gradOutput.mul(output, buffer("gy", t, s)).divi(d);
        INDArray w = windowSum(gy, buffer("w", t, s)).muli(input).muli(2 * alpha * beta);
        return gradOutput.mul(dPowMinusBeta, buffer("gradIn", t, s)).subi(w);
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
