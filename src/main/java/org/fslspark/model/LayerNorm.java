package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.Arrays;
import java.util.Random;

/**
 * Layer normalisation over the last dimension, as PyTorch's {@code LayerNorm(width, eps=1e-5)}:
 * {@code y = (x - mean) / sqrt(var + eps) * gain + bias} with the biased variance. Parameters: gain
 * [width] (starts at 1), then bias [width] (starts at 0).
 *
 * <p>Built from elementwise ops rather than libnd4j's {@code layer_norm}: in 1.0.0-M2.1 that op
 * divides by the standard deviation with no epsilon (it matched {@code (x - mean) / std} to 0.0
 * and differed from the formula above by 1.6e-4 on random rows, and maps a constant row to 0), so
 * it is neither PyTorch's layer nor stable for near-constant rows.
 */
public final class LayerNorm extends Layer {
    private static final double EPS = 1e-5;

    private final int width;
    private INDArray gain;
    private INDArray bias;
    private INDArray gainGrad;
    private INDArray biasGrad;
    private INDArray normalized;
    private INDArray invStd;
    /** oneDNN path: the input (as [rows, width]) and the per-row mean and biased variance of the forward pass. */
    private INDArray input;
    private INDArray mean;
    private INDArray variance;
    private long[] inputShape;

    public LayerNorm(int width) {
        this.width = width;
    }

    @Override
    public long numParams() {
        return 2L * width;
    }

    @Override
    void bind(INDArray paramView, INDArray gradView) {
        super.bind(paramView, gradView);
        gain = Views.slice(paramView, 0, width, 1, width);
        bias = Views.slice(paramView, width, width, 1, width);
        gainGrad = Views.slice(gradView, 0, width, 1, width);
        biasGrad = Views.slice(gradView, width, width, 1, width);
    }

    @Override
    void initialize(Random rng) {
        gain.assign(1);
        bias.assign(0);
    }

    @Override
    public long[] outputShape(long[] s) {
        if (s[s.length - 1] != width) {
            throw new IllegalArgumentException(describe() + " expects last dimension " + width + ", got " + Arrays.toString(s));
        }
        return s;
    }

    @Override
    public INDArray forward(INDArray x) {
        inputShape = x.shape();
        long rows = x.length() / width;
        INDArray x2 = x.reshape('c', rows, width);
        if (Dnnl.usable(x2, params) && x2.elementWiseStride() == 1) {
            // oneDNN's layer normalisation: one primitive, PyTorch's formula (eps inside the square root)
            input = x2;
            mean = buffer("mean", x.dataType(), rows);
            variance = buffer("variance", x.dataType(), rows);
            INDArray y = buffer("out", x.dataType(), rows, width);
            Dnnl.layerNorm(rows, width, (float) EPS).exec(x2, params, y, mean, variance);
            return y.reshape('c', inputShape);
        }
        input = null;
        INDArray mean = x2.mean(true, 1);
        invStd = Transforms.pow(x2.var(false, 1).addi(EPS), -0.5, false).reshape(rows, 1);
        normalized = buffer("normalized", x.dataType(), rows, width).assign(x2).subiColumnVector(mean).muliColumnVector(invStd);
        INDArray y = buffer("out", x.dataType(), rows, width).assign(normalized).muliRowVector(gain).addiRowVector(bias);
        return y.reshape('c', inputShape);
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        if (input != null) {
            return backwardDnnl(gradOutput);
        }
        long rows = normalized.size(0);
        INDArray g = gradOutput.reshape('c', rows, width);
        INDArray gx = buffer("gradNormalized", g.dataType(), rows, width).assign(g).muli(normalized);
        gainGrad.addi(gx.sum(true, 0));
        biasGrad.addi(g.sum(true, 0));
        // With h = g * gain: dx = invStd * (h - mean(h) - normalized * mean(h * normalized)), per row.
        INDArray meanHx = gx.muliRowVector(gain).mean(true, 1);
        INDArray h = buffer("gradIn", g.dataType(), rows, width).assign(g).muliRowVector(gain);
        INDArray meanH = h.mean(true, 1);
        h.subi(gx.assign(normalized).muliColumnVector(meanHx)).subiColumnVector(meanH).muliColumnVector(invStd);
        return h.reshape('c', inputShape);
    }

    /** dx, and d(gain, bias) into a scratch [2, width] that is then added: the primitive overwrites its output. */
    private INDArray backwardDnnl(INDArray gradOutput) {
        long rows = input.size(0);
        INDArray g = gradOutput.reshape('c', rows, width);
        if (g.elementWiseStride() != 1) {
            g = buffer("gradOut", g.dataType(), rows, width).assign(g);
        }
        INDArray gradIn = buffer("gradIn", g.dataType(), rows, width);
        INDArray gradParams = buffer("gradParams", g.dataType(), 2, width);
        Dnnl.layerNormBackward(rows, width, (float) EPS).exec(input, g, mean, variance, params, gradIn, gradParams);
        grads.addi(gradParams.reshape('c', 1, 2L * width));
        return gradIn.reshape('c', inputShape);
    }

    @Override
    public void clearCache() {
        normalized = null;
        invStd = null;
        input = null;
        mean = null;
        variance = null;
    }

    @Override
    public String describe() {
        return "layernorm" + width;
    }
}
