package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Random;

/** Fully connected layer on the last dimension: [b, in] or [b, t, in] to [.., out]. Weights [in, out]. */
public final class Dense extends Layer {
    private final int in;
    private final int out;
    /** Standard deviation of normal initial weights; 0 selects PyTorch's default uniform. */
    private final double initStd;
    /** Whether the biases too start normal(0, initStd), rather than at 0. */
    private final boolean normalBias;
    private INDArray weight;
    private INDArray bias;
    private INDArray weightGrad;
    private INDArray biasGrad;
    private INDArray input2d;
    private long[] inputShape;
    /** [1, rows] of ones: the bias gradient is the product 1^T g (oneDNN path). */
    private INDArray ones;

    /** PyTorch's default initialisation: weights and bias uniform in +-1/sqrt(in). */
    public Dense(int in, int out) {
        this(in, out, 0);
    }

    /** GPT-2's initialisation: weights normal(0, initStd), bias 0. */
    public Dense(int in, int out, double initStd) {
        this(in, out, initStd, false);
    }

    private Dense(int in, int out, double initStd, boolean normalBias) {
        this.in = in;
        this.out = out;
        this.initStd = initStd;
        this.normalBias = normalBias;
    }

    /** Weights and biases normal(0, std), as the FSL-SAGE reference's simple_conv initialises its dense layers. */
    public static Dense normal(int in, int out, double std) {
        return new Dense(in, out, std, true);
    }

    @Override
    public long numParams() {
        return (long) in * out + out;
    }

    @Override
    void bind(INDArray paramView, INDArray gradView) {
        super.bind(paramView, gradView);
        long w = (long) in * out;
        weight = Views.slice(paramView, 0, w, in, out);
        bias = Views.slice(paramView, w, out, 1, out);
        weightGrad = Views.slice(gradView, 0, w, in, out);
        biasGrad = Views.slice(gradView, w, out, 1, out);
    }

    @Override
    void initialize(Random rng) {
        if (initStd > 0) {
            normal(weight, initStd, rng);
            if (normalBias) {
                normal(bias, initStd, rng);
            } else {
                bias.assign(0);
            }
            return;
        }
        double bound = 1.0 / Math.sqrt(in);
        uniform(weight, bound, rng);
        uniform(bias, bound, rng);
    }

    @Override
    public long[] outputShape(long[] s) {
        if (s[s.length - 1] != in) {
            throw new IllegalArgumentException(describe() + " expects last dimension " + in + ", got " + java.util.Arrays.toString(s));
        }
        long[] o = s.clone();
        o[o.length - 1] = out;
        return o;
    }

    @Override
    public long macsPerSample(long[] s) {
        long rows = 1;
        for (int i = 0; i < s.length - 1; i++) {
            rows *= s[i];
        }
        return rows * in * out;
    }

    @Override
    public INDArray forward(INDArray x) {
        inputShape = x.shape();
        input2d = x.rank() == 2 ? x : x.reshape('c', x.length() / in, in);
        INDArray y = buffer("out", x.dataType(), input2d.size(0), out);
        if (Dnnl.usable(input2d, weight)) {
            // one oneDNN matmul with the bias fused, instead of a gemm and a broadcast pass
            Dnnl.matmul(Dnnl.Layout.of(input2d), Dnnl.Layout.of(weight), Dnnl.Layout.of(bias), Dnnl.Layout.of(y), 1f, 0f, null)
                    .exec(input2d, weight, bias, y);
        } else {
            Nd4j.gemm(input2d, weight, y, false, false, 1.0, 0.0);
            y.addiRowVector(bias);
        }
        if (x.rank() == 2) {
            return y;
        }
        long[] o = inputShape.clone();
        o[o.length - 1] = out;
        return y.reshape('c', o);
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        return backward(gradOutput, true);
    }

    @Override
    public INDArray backward(INDArray gradOutput, boolean inputGradient) {
        INDArray g2d = gradOutput.rank() == 2 ? gradOutput : gradOutput.reshape('c', gradOutput.length() / out, out);
        if (Dnnl.usable(g2d, input2d, weight)) {
            return backwardDnnl(g2d, inputGradient);
        }
        if (!frozen()) {
            Nd4j.gemm(input2d, g2d, weightGrad, true, false, 1.0, 1.0);
            biasGrad.addi(g2d.sum(true, 0));
        }
        if (!inputGradient) {
            return null;
        }
        INDArray gradInput = buffer("gradIn", g2d.dataType(), g2d.size(0), in);
        Nd4j.gemm(g2d, weight, gradInput, false, true, 1.0, 0.0);
        return inputShape.length == 2 ? gradInput : gradInput.reshape('c', inputShape);
    }

    /**
     * The same three products on oneDNN: dW += x^T g and db += 1^T g accumulate in the matmul (a sum
     * post-op), dx = g W^T; the transposes are strides, not copies.
     */
    private INDArray backwardDnnl(INDArray g2d, boolean inputGradient) {
        long rows = g2d.size(0);
        Dnnl.Layout g = Dnnl.Layout.of(g2d);
        if (!frozen()) {
            Dnnl.matmul(Dnnl.Layout.of(input2d).transposeLast(), g, null, Dnnl.Layout.of(weightGrad), 1f, 1f, null)
                    .exec(input2d, g2d, weightGrad);
            if (ones == null || ones.length() != rows) {
                ones = Nd4j.ones(g2d.dataType(), 1, rows);
            }
            Dnnl.matmul(Dnnl.Layout.of(ones), g, null, Dnnl.Layout.of(biasGrad), 1f, 1f, null).exec(ones, g2d, biasGrad);
        }
        if (!inputGradient) {
            return null;
        }
        INDArray gradInput = buffer("gradIn", g2d.dataType(), rows, in);
        Dnnl.matmul(g, Dnnl.Layout.of(weight).transposeLast(), null, Dnnl.Layout.of(gradInput), 1f, 0f, null)
                .exec(g2d, weight, gradInput);
        return inputShape.length == 2 ? gradInput : gradInput.reshape('c', inputShape);
    }

    int in() {
        return in;
    }

    int out() {
        return out;
    }

    /** The weight [in, out], a view into the parameters (LoRA merges its adapters into it). */
    INDArray weight() {
        return weight;
    }

    @Override
    public void clearCache() {
        input2d = null;
    }

    @Override
    public String describe() {
        return "dense" + in + "x" + out;
    }
}
