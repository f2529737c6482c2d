package org.fslspark.model;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.api.ops.impl.scalar.Pow;

import java.util.HashMap;
import java.util.Map;

/**
 * Local response normalisation across channels (NCHW):
 * {@code y_c = x_c * d_c^-beta, d_c = bias + alpha * sum_{c - before <= c' <= c + after} x_c'^2}.
 * TensorFlow's {@code local_response_normalization(depth_radius r)} is the symmetric window
 * ({@link #tensorflow}); PyTorch's {@code LocalResponseNorm(size n, alpha_t)} is the window of n channels from
 * c - n/2 to c + (n-1)/2, asymmetric for an even n, with alpha = alpha_t / n ({@link #pytorch}).
 *
 * <p>Built from libnd4j primitives rather than its {@code lrn}/{@code lrn_bp} ops: in 1.0.0-M2.1
 * {@code lrn} does not compute this formula and {@code lrn_bp} is not the gradient of {@code lrn}
 * (both found by this layer's finite-difference test). The sum over the channel window is a 1x1
 * convolution with a 0/1 band matrix, which runs on oneDNN.
 */
public final class LocalResponseNorm extends Layer {
    private final int before;
    private final int after;
    private final double bias;
    private final double alpha;
    private final double beta;
    private final Map<String, INDArray> bands = new HashMap<>();
    private INDArray input;
    private INDArray output;
    private INDArray d;
    private INDArray dPowMinusBeta;

    private LocalResponseNorm(int before, int after, double bias, double alpha, double beta) {
        this.before = before;
        this.after = after;
        this.bias = bias;
        this.alpha = alpha;
        this.beta = beta;
    }

    /** TensorFlow's {@code local_response_normalization(depth_radius, bias, alpha, beta)}. */
    public static LocalResponseNorm tensorflow(int radius, double bias, double alpha, double beta) {
        return new LocalResponseNorm(radius, radius, bias, alpha, beta);
    }

    /** PyTorch's {@code LocalResponseNorm(size, alpha, beta, k)}: it averages the squares over the window. */
    public static LocalResponseNorm pytorch(int size, double alpha, double beta, double k) {
        return new LocalResponseNorm(size / 2, (size - 1) / 2, k, alpha / size, beta);
    }

    @Override
    public long[] outputShape(long[] s) {
        return s;
    }

    /**
     * Weights [C, C, 1, 1] with 1 where {@code c - below <= c' <= c + above}: conv2d with it sums, for each channel c,
     * the channels c' of that window.
     */
    private INDArray band(DataType type, long channels, int below, int above) {
        return bands.computeIfAbsent(type + "/" + channels + "/" + below + "/" + above, k -> {
            INDArray w = Nd4j.zeros(type, channels, channels, 1, 1);
            for (long c = 0; c < channels; c++) {
                for (long c2 = Math.max(0, c - below); c2 <= Math.min(channels - 1, c + above); c2++) {
                    w.putScalar(new long[]{c, c2, 0, 0}, 1.0);
                }
            }
            return w;
        });
    }

    /** Sum over each channel's window ({@code below}, {@code above}), written into {@code into}. */
    private INDArray windowSum(INDArray x, INDArray into, int below, int above) {
        // kH, kW, sH, sW, pH, pW, dH, dW, sameMode=0, dataFormat=NCHW, weightFormat=[oC,iC,kH,kW]
        int[] args = {1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1};
        return Ops.execInto("conv2d", new INDArray[]{x, band(x.dataType(), x.size(1), below, above)}, new INDArray[]{into}, args)[0];
    }

    @Override
    public INDArray forward(INDArray x) {
        input = x;
        DataType t = x.dataType();
        long[] s = x.shape();
        INDArray sq = x.mul(x, buffer("sq", t, s));
        d = windowSum(sq, buffer("d", t, s), before, after).muli(alpha).addi(bias);
        dPowMinusBeta = buffer("dPow", t, s);
        Nd4j.exec(new Pow(d, dPowMinusBeta, -beta));
        output = x.mul(dPowMinusBeta, buffer("out", t, s));
        return output;
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        // dL/dx_j = g_j d_j^-beta - 2 alpha beta x_j sum_{c: j in window(c)} g_c y_c / d_c; j is in c's window when
        // c - before <= j <= c + after, so c runs over the mirrored window, from j - after to j + before.
        DataType t = input.dataType();
        long[] s = input.shape();
        INDArray gy = gradOutput.mul(output, buffer("gy", t, s)).divi(d);
        INDArray w = windowSum(gy, buffer("w", t, s), after, before).muli(input).muli(2 * alpha * beta);
        return gradOutput.mul(dPowMinusBeta, buffer("gradIn", t, s)).subi(w);
    }

    @Override
    public void clearCache() {
        input = null;
    }

    @Override
    public String describe() {
        return "lrn" + (before + after + 1);
    }
}
