package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Random;

/**
 * 2-D convolution, NCHW activations, weights [out, in, k, k], then bias (optional: a convolution
 * followed by batch normalisation has none, as in ResNets, since the normalisation's shift replaces
 * it). Runs oneDNN's convolution primitives on the layouts they choose (docs/PERFORMANCE.md), or libnd4j's
 * conv2d and conv2d_bp off that path (double precision, other backends).
 */
public final class Conv2d extends Layer {
    private final int in;
    private final int out;
    private final int kernel;
    private final int stride;
    private final int padding;
    private final boolean hasBias;
    /** Kaiming-normal standard deviation of the weights, or 0 for PyTorch's default U(+-1/sqrt(fan_in)). */
    private final double kaimingStd;
    private INDArray weight;
    private INDArray bias;
    private INDArray weightGrad;
    private INDArray biasGrad;
    private INDArray input;

    public Conv2d(int in, int out, int kernel, int stride, int padding) {
        this(in, out, kernel, stride, padding, true, 0);
    }

    private Conv2d(int in, int out, int kernel, int stride, int padding, boolean hasBias, double kaimingStd) {
        this.in = in;
        this.out = out;
        this.kernel = kernel;
        this.stride = stride;
        this.padding = padding;
        this.hasBias = hasBias;
        this.kaimingStd = kaimingStd;
    }

    /**
     * A ResNet convolution: no bias, weights from N(0, 2 / fan) (Kaiming-normal for ReLU), fan being
     * out*k*k ({@code fanOut}, torchvision's ResNet-18) or in*k*k (He et al.'s CIFAR ResNets).
     */
    static Conv2d resnet(int in, int out, int kernel, int stride, int padding, boolean fanOut) {
        double fan = (double) (fanOut ? out : in) * kernel * kernel;
        return new Conv2d(in, out, kernel, stride, padding, false, Math.sqrt(2.0 / fan));
    }

    /** The weights [out, in, k, k] (a view of the parameters), for fused passes; whether the layer has a bias. */
    INDArray weight() {
        return weight;
    }

    boolean hasBias() {
        return hasBias;
    }

    @Override
    public long numParams() {
        return (long) out * in * kernel * kernel + (hasBias ? out : 0);
    }

    @Override
    void bind(INDArray paramView, INDArray gradView) {
        super.bind(paramView, gradView);
        long w = (long) out * in * kernel * kernel;
        weight = Views.slice(paramView, 0, w, out, in, kernel, kernel);
        weightGrad = Views.slice(gradView, 0, w, out, in, kernel, kernel);
        if (hasBias) {
            bias = Views.slice(paramView, w, out, out);
            biasGrad = Views.slice(gradView, w, out, out);
        }
    }

    @Override
    void initialize(Random rng) {
        if (kaimingStd > 0) {
            normal(weight, kaimingStd, rng);
            return;
        }
        double bound = 1.0 / Math.sqrt((double) in * kernel * kernel);
        uniform(weight, bound, rng);
        if (hasBias) {
            uniform(bias, bound, rng);
        }
    }

    private int[] args() {
        // kH, kW, sH, sW, pH, pW, dH, dW, sameMode=0, dataFormat=NCHW, weightFormat=[oC,iC,kH,kW]
        return new int[]{kernel, kernel, stride, stride, padding, padding, 1, 1, 0, 0, 1};
    }

    @Override
    public long[] outputShape(long[] s) {
        requireChannels(s);
        return new long[]{out, (s[1] + 2L * padding - kernel) / stride + 1, (s[2] + 2L * padding - kernel) / stride + 1};
    }

    private void requireChannels(long[] s) {
        if (s.length != 3 || s[0] != in) {
            throw new IllegalArgumentException(describe() + " expects [" + in + ", h, w] input, got " + java.util.Arrays.toString(s));
        }
    }

    @Override
    public long macsPerSample(long[] s) {
        long[] o = outputShape(s);
        return o[0] * o[1] * o[2] * in * kernel * kernel;
    }

    @Override
    public INDArray forward(INDArray x) {
        input = x;
        long[] o = outputShape(new long[]{x.size(1), x.size(2), x.size(3)});
        INDArray y = buffer("out", x.dataType(), x.size(0), o[0], o[1], o[2]);
        if (Dnnl.usable(x, weight) && Dnnl.dense(x)) {
            Dnnl.Primitive conv = Dnnl.convolution(x.shape(), weight.shape(), hasBias, y.shape(), stride, padding);
            if (hasBias) {
                conv.exec(x, weight, bias, y);
            } else {
                conv.exec(x, weight, y);
            }
            return y;
        }
        INDArray[] inputs = hasBias ? new INDArray[]{x, weight, bias} : new INDArray[]{x, weight};
        return Ops.execInto("conv2d", inputs, new INDArray[]{y}, args())[0];
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        return backward(gradOutput, true);
    }

    @Override
    public INDArray backward(INDArray gradOutput, boolean inputGradient) {
        if (Dnnl.usable(input, weight, gradOutput) && Dnnl.dense(input) && Dnnl.dense(gradOutput)) {
            return backwardDnnl(gradOutput, inputGradient);
        }
        // conv2d_bp overwrites its outputs, so the parameter gradients land in scratch and are added.
        INDArray gradIn = buffer("gradIn", input.dataType(), input.shape());
        INDArray gw = buffer("gradW", weight.dataType(), weight.shape());
        if (!hasBias) {
            Ops.execInto("conv2d_bp", new INDArray[]{input, weight, gradOutput}, new INDArray[]{gradIn, gw}, args());
            weightGrad.addi(gw);
            return gradIn;
        }
        INDArray gb = buffer("gradB", bias.dataType(), bias.shape());
        Ops.execInto("conv2d_bp", new INDArray[]{input, weight, bias, gradOutput}, new INDArray[]{gradIn, gw, gb}, args());
        weightGrad.addi(gw);
        biasGrad.addi(gb);
        return gradIn;
    }

    /** The weight (and bias) gradients into scratch, then added; the input gradient only if asked for. */
    private INDArray backwardDnnl(INDArray gradOutput, boolean inputGradient) {
        INDArray gw = buffer("gradW", weight.dataType(), weight.shape());
        Dnnl.Primitive weights = Dnnl.convolutionBackwardWeights(input.shape(), weight.shape(), gradOutput.shape(), stride,
                padding, hasBias);
        if (hasBias) {
            INDArray gb = buffer("gradB", bias.dataType(), bias.shape());
            weights.exec(input, gradOutput, gw, gb);
            biasGrad.addi(gb);
        } else {
            weights.exec(input, gradOutput, gw);
        }
        weightGrad.addi(gw);
        if (!inputGradient) {
            return null;
        }
        INDArray gradIn = buffer("gradIn", input.dataType(), input.shape());
        Dnnl.convolutionBackwardData(input.shape(), weight.shape(), gradOutput.shape(), stride, padding)
                .exec(gradOutput, weight, gradIn);
        return gradIn;
    }

    @Override
    public void clearCache() {
        input = null;
    }

    @Override
    public String describe() {
        return "conv" + kernel + "x" + kernel + "x" + out;
    }
}
