package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastAddOp;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastMulOp;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastSubOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.Random;

/**
 * Batch normalisation over the channels of NCHW activations, as PyTorch's {@code BatchNorm2d}:
 * {@code y = gamma (x - mean) / sqrt(var + 1e-5) + beta} per channel. In training mode mean and var
 * are the batch's (over batch, height and width; the biased variance) and the running statistics
 * move towards them with momentum 0.1 (the running variance from the unbiased batch variance); in
 * evaluation mode the running statistics normalise.
 *
 * <p>Its slice of the flat vector is {@code [gamma | beta | running mean | running variance]}, C
 * each. The running statistics are state, not trained parameters: they sit in the vector so that
 * FedAvg averages them with the weights (as the FSL-SAGE reference averages the whole state_dict)
 * and the transport and checkpoints carry them, but their gradient is always zero and
 * {@link #discardStateUpdate} keeps every optimizer off them (docs/BATCHNORM.md).
 *
 * <p>Elementwise broadcast ops into reused buffers: libnd4j's {@code batchnorm} op takes the
 * statistics as inputs, so the batch's would be computed here anyway.
 */
public final class BatchNorm2d extends Layer {
    static final double MOMENTUM = 0.1;
    static final double EPS = 1e-5;

    private final int channels;
    private INDArray gamma;
    private INDArray beta;
    private INDArray runningMean;
    private INDArray runningVar;
    private INDArray gammaGrad;
    private INDArray betaGrad;
    private INDArray stateGrad;
    /** Cached by forward for backward: the normalised input, 1/sqrt(var + eps) and the mode. */
    private INDArray normalized;
    private INDArray invStd;
    private boolean batchStatistics;

    public BatchNorm2d(int channels) {
        this.channels = channels;
    }

    @Override
    public long numParams() {
        return 4L * channels;
    }

    @Override
    void bind(INDArray paramView, INDArray gradView) {
        super.bind(paramView, gradView);
        long c = channels;
        gamma = Views.slice(paramView, 0, c, c);
        beta = Views.slice(paramView, c, c, c);
        runningMean = Views.slice(paramView, 2 * c, c, c);
        runningVar = Views.slice(paramView, 3 * c, c, c);
        gammaGrad = Views.slice(gradView, 0, c, c);
        betaGrad = Views.slice(gradView, c, c, c);
        stateGrad = Views.slice(gradView, 2 * c, 2 * c, 2 * c);
    }

    @Override
    void initialize(Random rng) {
        gamma.assign(1);
        beta.assign(0);
        runningMean.assign(0);
        runningVar.assign(1);
    }

    @Override
    boolean hasState() {
        return true;
    }

    @Override
    void discardStateUpdate() {
        stateGrad.assign(0);
    }

    @Override
    public long[] outputShape(long[] s) {
        if (s.length != 3 || s[0] != channels) {
            throw new IllegalArgumentException(describe() + " expects [" + channels + ", h, w] input, got "
                    + java.util.Arrays.toString(s));
        }
        return s;
    }

    @Override
    public INDArray forward(INDArray x) {
        return forward(x, true);
    }

    @Override
    public INDArray forward(INDArray x, boolean training) {
        normalized = buffer("normalized", x.dataType(), x.shape());
        INDArray var;
        if (training) {
            long n = x.length() / channels;
            INDArray mean = x.mean(0, 2, 3);
            Nd4j.exec(new BroadcastSubOp(x, mean, normalized, 1));
            // Two passes (centre, then mean square): ND4J's variance over dims 0, 2, 3 is ~50x slower than a mean.
            var = buffer("scratch", x.dataType(), x.shape()).assign(normalized).muli(normalized).mean(0, 2, 3);
            double unbias = n > 1 ? (double) n / (n - 1) : 1.0;
            runningMean.muli(1 - MOMENTUM).addi(mean.muli(MOMENTUM));
            runningVar.muli(1 - MOMENTUM).addi(var.mul(MOMENTUM * unbias));
        } else {
            Nd4j.exec(new BroadcastSubOp(x, runningMean, normalized, 1));
            var = runningVar;
        }
        batchStatistics = training;
        invStd = Transforms.pow(var.add(EPS), -0.5, false);
        Nd4j.exec(new BroadcastMulOp(normalized, invStd, normalized, 1));
        INDArray y = buffer("out", x.dataType(), x.shape());
        Nd4j.exec(new BroadcastMulOp(normalized, gamma, y, 1));
        Nd4j.exec(new BroadcastAddOp(y, beta, y, 1));
        return y;
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        return backward(gradOutput, true);
    }

    @Override
    public INDArray backward(INDArray gradOutput, boolean inputGradient) {
        INDArray scratch = buffer("scratch", gradOutput.dataType(), gradOutput.shape());
        INDArray sumG = gradOutput.sum(0, 2, 3);
        INDArray sumGx = scratch.assign(gradOutput).muli(normalized).sum(0, 2, 3);
        betaGrad.addi(sumG);
        gammaGrad.addi(sumGx);
        if (!inputGradient) {
            return null;
        }
        INDArray gradIn = buffer("gradIn", gradOutput.dataType(), gradOutput.shape());
        INDArray scale = gamma.mul(invStd);
        if (!batchStatistics) {
            // Constant statistics: a per-channel affine map.
            return Nd4j.exec(new BroadcastMulOp(gradOutput, scale, gradIn, 1));
        }
        // dx = gamma invStd / N (N g - sum(g) - xhat sum(g xhat)), per channel over N = b h w values.
        long n = gradOutput.length() / channels;
        Nd4j.exec(new BroadcastMulOp(normalized, sumGx, scratch, 1));
        scratch.rsubi(gradIn.assign(gradOutput).muli(n));
        Nd4j.exec(new BroadcastSubOp(scratch, sumG, scratch, 1));
        return Nd4j.exec(new BroadcastMulOp(scratch, scale.divi(n), gradIn, 1));
    }

    @Override
    public void clearCache() {
        normalized = null;
        invStd = null;
    }

    @Override
    public long macsPerSample(long[] s) {
        return 2 * s[0] * s[1] * s[2];
    }

    @Override
    public String describe() {
        return "bn" + channels;
    }
}
