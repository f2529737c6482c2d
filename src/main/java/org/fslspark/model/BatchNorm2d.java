package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;
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
 * <p>libnd4j's {@code batchnorm} and {@code batchnorm_bp} ops (oneDNN for float NCHW) do the
 * normalisation and its gradient; they take the statistics as inputs, so the batch's are computed
 * here (a mean, then the mean square of the centred input, into a reused buffer).
 */
public final class BatchNorm2d extends Layer {
    static final double MOMENTUM = 0.1;
    static final double EPS = 1e-5;

    private final int channels;
    private INDArray gamma;
    private INDArray beta;
    private INDArray runningMean;
    private INDArray runningVar;
    /** gamma and beta as one [2, C] array, oneDNN's scale-shift; their gradients likewise. */
    private INDArray scaleShift;
    private INDArray scaleShiftGrad;
    private INDArray gammaGrad;
    private INDArray betaGrad;
    private INDArray stateGrad;
    /** Cached by forward for backward: the input, the statistics it was normalised with and the mode. */
    private INDArray input;
    private INDArray mean;
    private INDArray var;
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
        scaleShift = Views.slice(paramView, 0, 2 * c, 2, c);
        scaleShiftGrad = Views.slice(gradView, 0, 2 * c, 2, c);
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

    /** applyScale, applyOffset, the channel axis of NCHW. */
    private static final int[] OP_ARGS = {1, 1, 1};

    @Override
    public INDArray forward(INDArray x, boolean training) {
        input = x;
        batchStatistics = training;
        if (training && Dnnl.usable(x, scaleShift) && Dnnl.dense(x)) {
            // oneDNN's batch normalisation: the statistics and the normalisation in one primitive.
            mean = buffer("mean", x.dataType(), channels);
            var = buffer("var", x.dataType(), channels);
            INDArray y = buffer("out", x.dataType(), x.shape());
            Dnnl.batchNorm(x.shape(), (float) EPS).exec(x, scaleShift, y, mean, var);
            updateRunningStatistics(x.length() / channels);
            return y;
        }
        if (training) {
            mean = x.mean(0, 2, 3);
            // Two passes (centre, then mean square): ND4J's variance over dims 0, 2, 3 is ~50x slower than a mean.
            INDArray centred = buffer("scratch", x.dataType(), x.shape());
            Nd4j.exec(new BroadcastSubOp(x, mean, centred, 1));
            var = centred.muli(centred).mean(0, 2, 3);
            updateRunningStatistics(x.length() / channels);
        } else {
            mean = runningMean;
            var = runningVar;
            if (Dnnl.usable(x, gamma, beta, mean, var) && Dnnl.dense(x)) {
                // Constant statistics make the layer a per-channel affine map, one oneDNN pass: 0.22 ms on [64, 16, 28,
                // 28] against 0.83 for oneDNN's batch normalisation and 1.0 for libnd4j's (one thread, CPU time).
                INDArray[] scaleShift = evaluationScaleShift();
                INDArray y = buffer("out", x.dataType(), x.shape());
                Dnnl.channelAffine(x.shape()).exec(x, scaleShift[0], y, scaleShift[1]);
                return y;
            }
        }
        // Double (gradient checks), views and -Dfsl.dnnl=false: libnd4j's batchnorm with the statistics given.
        INDArray y = buffer("out", x.dataType(), x.shape());
        return Ops.execInto("batchnorm", new INDArray[]{x, mean, var, gamma, beta}, new INDArray[]{y}, OP_ARGS, EPS)[0];
    }

    /**
     * Evaluation mode as {@code y = scale * x + shift} per channel: {@code scale = gamma / sqrt(runningVar + eps)},
     * {@code shift = beta - runningMean * scale} (buffers, valid until the next call).
     */
    INDArray[] evaluationScaleShift() {
        INDArray scale = buffer("scale", gamma.dataType(), channels);
        INDArray shift = buffer("shift", gamma.dataType(), channels);
        Transforms.sqrt(scale.assign(runningVar).addi(EPS), false);
        gamma.div(scale, scale);
        beta.sub(runningMean.mul(scale), shift);
        return new INDArray[]{scale, shift};
    }

    /** Moves the running statistics towards the batch's ({@code n} values a channel; the unbiased variance). */
    private void updateRunningStatistics(long n) {
        double unbias = n > 1 ? (double) n / (n - 1) : 1.0;
        runningMean.muli(1 - MOMENTUM).addi(mean.mul(MOMENTUM));
        runningVar.muli(1 - MOMENTUM).addi(var.mul(MOMENTUM * unbias));
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        return backward(gradOutput, true);
    }

    @Override
    public INDArray backward(INDArray gradOutput, boolean inputGradient) {
        INDArray gradIn = buffer("gradIn", gradOutput.dataType(), gradOutput.shape());
        if (!batchStatistics) {
            // Constant statistics: a per-channel affine map.
            INDArray invStd = Transforms.pow(var.add(EPS), -0.5, false);
            INDArray normalized = buffer("scratch", input.dataType(), input.shape());
            Nd4j.exec(new BroadcastSubOp(input, mean, normalized, 1));
            Nd4j.exec(new BroadcastMulOp(normalized, invStd, normalized, 1));
            betaGrad.addi(gradOutput.sum(0, 2, 3));
            gammaGrad.addi(normalized.muli(gradOutput).sum(0, 2, 3));
            return inputGradient ? Nd4j.exec(new BroadcastMulOp(gradOutput, gamma.mul(invStd), gradIn, 1)) : null;
        }
        if (Dnnl.usable(input, gradOutput, mean, var, scaleShift) && Dnnl.dense(input) && Dnnl.dense(gradOutput)) {
            // oneDNN's backward, through the batch statistics too: 3-9x faster here than libnd4j's batchnorm_bp
            // (docs/PERFORMANCE.md); it overwrites its parameter gradients, so they land in scratch and are added.
            INDArray gradScaleShift = buffer("gradScaleShift", gradOutput.dataType(), 2, channels);
            Dnnl.batchNormBackward(input.shape(), (float) EPS).exec(input, gradOutput, mean, var, scaleShift, gradIn,
                    gradScaleShift);
            scaleShiftGrad.addi(gradScaleShift);
            return inputGradient ? gradIn : null;
        }
        // batchnorm_bp differentiates through the batch statistics too (mean and var of the input), which
        // the finite-difference tests check; its parameter gradients land in scratch and are added.
        INDArray gradMean = buffer("gradMean", mean.dataType(), mean.shape());
        INDArray gradVar = buffer("gradVar", var.dataType(), var.shape());
        INDArray gradGamma = buffer("gradGamma", gamma.dataType(), gamma.shape());
        INDArray gradBeta = buffer("gradBeta", beta.dataType(), beta.shape());
        Ops.execInto("batchnorm_bp", new INDArray[]{input, mean, var, gamma, beta, gradOutput},
                new INDArray[]{gradIn, gradMean, gradVar, gradGamma, gradBeta}, OP_ARGS, EPS);
        gammaGrad.addi(gradGamma);
        betaGrad.addi(gradBeta);
        return inputGradient ? gradIn : null;
    }

    @Override
    public void clearCache() {
        input = null;
        mean = null;
        var = null;
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
