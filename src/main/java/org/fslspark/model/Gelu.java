package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;

import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_gelu_tanh;

/**
 * GELU, the tanh approximation of GPT-2 (PyTorch's {@code gelu(x, approximate='tanh')}):
 * {@code y = x/2 (1 + tanh(c (x + 0.044715 x^3)))}, {@code c = sqrt(2/pi)}.
 *
 * <p>Built from elementwise ops: ND4J 1.0.0-M2.1's {@code GELU} is the sigmoid approximation
 * {@code x sigmoid(1.702 x)}, and its {@code PreciseGELU} is neither the tanh approximation nor the
 * exact GELU (-0.0247 at x = -3, where both give -0.004), with a derivative that matches neither.
 * The tanh is libnd4j's {@code tanh} custom op: in float it took 0.57 ms on 1M values here, the
 * legacy transform ({@code Transforms.tanh}, the {@code Tanh} op class) 5.4 ms.
 */
public final class Gelu extends Layer {
    private static final double C = Math.sqrt(2 / Math.PI);
    private static final double A = 0.044715;

    private INDArray input;
    private INDArray tanh;

    @Override
    public long[] outputShape(long[] s) {
        return s;
    }

    @Override
    public INDArray forward(INDArray x) {
        input = x;
        if (Dnnl.usable(x) && x.elementWiseStride() == 1 && x.ordering() == 'c') {
            // oneDNN's gelu_tanh: the same formula in one pass
            tanh = null;
            INDArray y = buffer("out", x.dataType(), x.shape());
            Dnnl.eltwise(dnnl_eltwise_gelu_tanh, 0f, 0f, flat(x)).exec(x, y);
            return y;
        }
        INDArray u = buffer("u", x.dataType(), x.shape()).assign(x).muli(x).muli(x).muli(A).addi(x).muli(C);
        tanh = Ops.execInto("tanh", new INDArray[]{u}, new INDArray[]{buffer("tanh", x.dataType(), x.shape())}, new int[0])[0];
        return buffer("out", x.dataType(), x.shape()).assign(tanh).addi(1).muli(x).muli(0.5);
    }

    /** An array's elements as one dense row (the op is elementwise). */
    private static Dnnl.Layout flat(INDArray a) {
        return Dnnl.Layout.dense(a.length());
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        if (tanh == null) {
            INDArray g = gradOutput;
            if (g.elementWiseStride() != 1 || g.ordering() != 'c') {
                g = buffer("gradOut", g.dataType(), g.shape()).assign(g);
            }
            INDArray gradIn = buffer("gradIn", input.dataType(), input.shape());
            Dnnl.eltwiseBackward(dnnl_eltwise_gelu_tanh, 0f, 0f, flat(input)).exec(input, g, gradIn);
            return gradIn;
        }
        // dy/dx = (1 + tanh)/2 + x/2 (1 - tanh^2) c (1 + 3 A x^2)
        INDArray slope = buffer("slope", input.dataType(), input.shape()).assign(input).muli(input).muli(3 * A).addi(1).muli(C);
        INDArray g = buffer("gradIn", input.dataType(), input.shape()).assign(tanh).muli(tanh).rsubi(1).muli(input).muli(slope);
        return g.addi(tanh).addi(1).muli(0.5).muli(gradOutput);
    }

    @Override
    public void clearCache() {
        input = null;
        tanh = null;
    }

    @Override
    public String describe() {
        return "gelu";
    }
}
