package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Random;

/**
 * A frozen {@link Dense} with low-rank adapters (LoRA) on some of its output columns: for each
 * adapted segment s of columns, {@code y[:, s] = x W[:, s] + b[s] + scale * x A_s B_s} with
 * A_s [in, rank] and B_s [rank, |s|]. Segments let the fused query|key|value projection adapt the
 * three parts separately. The parameters are only the adapters, A_s then B_s per segment; A starts
 * uniform in +-1/sqrt(in) (PyTorch's default for a linear map), B at zero, so a fresh adapter
 * leaves the output exactly the base model's.
 */
final class LoraDense extends Layer {
    private final Dense base;
    private final int rank;
    private final double scale;
    private final int[] starts;
    private final int width;
    private final INDArray[] a;
    private final INDArray[] b;
    private final INDArray[] aGrad;
    private final INDArray[] bGrad;
    private INDArray input2d;

    /** @param starts the first columns of the adapted segments of the base's output, each {@code width} wide */
    LoraDense(Dense base, int rank, double scale, int[] starts, int width) {
        if (!base.frozen()) {
            throw new IllegalArgumentException("LoRA adapts a frozen layer; freeze " + base.describe() + " first");
        }
        this.base = base;
        this.rank = rank;
        this.scale = scale;
        this.starts = starts.clone();
        this.width = width;
        int n = starts.length;
        a = new INDArray[n];
        b = new INDArray[n];
        aGrad = new INDArray[n];
        bGrad = new INDArray[n];
    }

    @Override
    public long numParams() {
        return (long) starts.length * rank * (base.in() + width);
    }

    @Override
    void bind(INDArray paramView, INDArray gradView) {
        super.bind(paramView, gradView);
        long offset = 0;
        for (int s = 0; s < starts.length; s++) {
            long na = (long) base.in() * rank;
            long nb = (long) rank * width;
            a[s] = Views.slice(paramView, offset, na, base.in(), rank);
            aGrad[s] = Views.slice(gradView, offset, na, base.in(), rank);
            b[s] = Views.slice(paramView, offset + na, nb, rank, width);
            bGrad[s] = Views.slice(gradView, offset + na, nb, rank, width);
            offset += na + nb;
        }
    }

    @Override
    void initialize(Random rng) {
        for (int s = 0; s < starts.length; s++) {
            uniform(a[s], 1.0 / Math.sqrt(base.in()), rng);
            b[s].assign(0);
        }
    }

    @Override
    public long[] outputShape(long[] inputShape) {
        return base.outputShape(inputShape);
    }

    @Override
    public long macsPerSample(long[] s) {
        long rows = base.macsPerSample(s) / ((long) base.in() * base.out());
        return base.macsPerSample(s) + rows * numParams();
    }

    private INDArray columns(INDArray m, int s) {
        return m.get(NDArrayIndex.all(), NDArrayIndex.interval(starts[s], starts[s] + width));
    }

    @Override
    public INDArray forward(INDArray x) {
        INDArray y = base.forward(x); // the base's own buffer: adding to it in place is safe
        input2d = x.reshape('c', x.length() / base.in(), base.in());
        INDArray y2d = y.reshape('c', input2d.size(0), base.out());
        for (int s = 0; s < starts.length; s++) {
            INDArray h = buffer("h" + s, x.dataType(), input2d.size(0), rank);
            Nd4j.gemm(input2d, a[s], h, false, false, 1.0, 0.0);
            INDArray delta = buffer("delta" + s, x.dataType(), input2d.size(0), width);
            Nd4j.gemm(h, b[s], delta, false, false, scale, 0.0);
            columns(y2d, s).addi(delta);
        }
        return y;
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        return backward(gradOutput, true);
    }

    @Override
    public INDArray backward(INDArray gradOutput, boolean inputGradient) {
        long rows = input2d.size(0);
        INDArray g2d = gradOutput.reshape('c', rows, base.out());
        INDArray gradInput = base.backward(gradOutput, inputGradient); // frozen: only dLoss/dInput
        INDArray gradInput2d = gradInput == null ? null : gradInput.reshape('c', rows, base.in());
        for (int s = 0; s < starts.length; s++) {
            INDArray h = buffer("h" + s, g2d.dataType(), rows, rank);
            INDArray gs = buffer("gradSegment" + s, g2d.dataType(), rows, width).assign(columns(g2d, s));
            Nd4j.gemm(h, gs, bGrad[s], true, false, scale, 1.0); // dB = scale h^T g
            INDArray gh = buffer("gradH" + s, g2d.dataType(), rows, rank);
            Nd4j.gemm(gs, b[s], gh, false, true, scale, 0.0); // dH = scale g B^T
            Nd4j.gemm(input2d, gh, aGrad[s], true, false, 1.0, 1.0); // dA = x^T dH
            if (gradInput2d != null) {
                Nd4j.gemm(gh, a[s], gradInput2d, false, true, 1.0, 1.0); // dx += dH A^T
            }
        }
        return gradInput;
    }

    /** Adds {@code scale * A_s B_s} to the base's weight columns: afterwards the base alone computes this layer. */
    void mergeIntoBase() {
        for (int s = 0; s < starts.length; s++) {
            columns(base.weight(), s).addi(a[s].mmul(b[s]).muli(scale));
        }
    }

    @Override
    public void clearCache() {
        base.clearCache();
        input2d = null;
    }

    @Override
    public void releaseBuffers() {
        super.releaseBuffers();
        base.releaseBuffers();
    }

    @Override
    public String describe() {
        return "lora" + rank + "(" + base.describe() + ")";
    }
}
