package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.List;

/**
 * A pre-norm GPT block on [b, t, width]: {@code h = x + attention(norm1(x))},
 * {@code y = h + mlp(norm2(h))} with {@code mlp = dense(width, 4 width) > gelu > dense(4 width, width)}.
 * Parameters, in order: norm1, attention, norm2, the two MLP layers. GPT-2's initialisation:
 * weights normal(0, 0.02), except the two projections that feed a residual sum, whose standard
 * deviation is 0.02 / sqrt(2 depth) so that the residual stream's variance does not grow with depth.
 *
 * <p>Like every layer of this package, the GPT's layers are written on ND4J (DL4J's tensor library)
 * and libnd4j's ops, with parameters as views of one flat vector, explicit backward passes and
 * reused buffers, rather than as DL4J layers or a SameDiff graph: that is the project's deliberate
 * choice for speed and for backpropagating the gradient at the cut (docs/PERFORMANCE.md).
 */
public final class TransformerBlock extends CompositeLayer {
    private static final double INIT_STD = 0.02;

    private final int width;
    private final int heads;
    private final LayerNorm norm1;
    private final CausalSelfAttention attention;
    private final LayerNorm norm2;
    private final Layer expand;
    private final Gelu gelu;
    private final Layer contract;

    /** Replaces a projection by another layer (LoRA adapters around it); {@code parts} name its equal column segments. */
    interface Adapter {
        Layer adapt(Dense projection, String... parts);
    }

    /** @param depth the number of blocks in the model (scales the residual projections' initialisation) */
    public TransformerBlock(int width, int heads, int depth) {
        this(width, heads, new LayerNorm(width), new CausalSelfAttention(width, heads, INIT_STD, residualStd(depth)),
                new LayerNorm(width), new Dense(width, 4 * width, INIT_STD), new Gelu(),
                new Dense(4 * width, width, residualStd(depth)));
    }

    private TransformerBlock(int width, int heads, LayerNorm norm1, CausalSelfAttention attention, LayerNorm norm2, Layer expand,
                             Gelu gelu, Layer contract) {
        super(List.of(norm1, attention, norm2, expand, gelu, contract));
        this.width = width;
        this.heads = heads;
        this.norm1 = norm1;
        this.attention = attention;
        this.norm2 = norm2;
        this.expand = expand;
        this.gelu = gelu;
        this.contract = contract;
    }

    /**
     * A block over this one's layers with its projections passed through {@code adapter}: the MLP's
     * as "mlp-in" and "mlp-out", the attention's as {@link CausalSelfAttention#withProjections} names
     * them. Only for a block whose layers are {@code Dense} projections (not already adapted).
     */
    TransformerBlock withProjections(Adapter adapter) {
        return new TransformerBlock(width, heads, norm1, attention.withProjections(adapter), norm2,
                adapter.adapt((Dense) expand, "mlp-in"), gelu, adapter.adapt((Dense) contract, "mlp-out"));
    }

    private static double residualStd(int depth) {
        return INIT_STD / Math.sqrt(2.0 * depth);
    }

    @Override
    public long[] outputShape(long[] s) {
        return attention.outputShape(s);
    }

    @Override
    public long macsPerSample(long[] s) {
        long[] hidden = expand.outputShape(s);
        return attention.macsPerSample(s) + expand.macsPerSample(s) + contract.macsPerSample(hidden);
    }

    @Override
    public INDArray forward(INDArray x) {
        INDArray h = Dnnl.add(x, attention.forward(norm1.forward(x)), buffer("h", x.dataType(), x.shape()));
        INDArray m = contract.forward(gelu.forward(expand.forward(norm2.forward(h))));
        return Dnnl.add(h, m, buffer("out", x.dataType(), x.shape()));
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        INDArray gradMlp = norm2.backward(expand.backward(gelu.backward(contract.backward(gradOutput))));
        INDArray gradH = Dnnl.add(gradOutput, gradMlp, buffer("gradH", gradOutput.dataType(), gradOutput.shape()));
        INDArray gradAttention = norm1.backward(attention.backward(gradH));
        return Dnnl.add(gradH, gradAttention, buffer("gradIn", gradOutput.dataType(), gradOutput.shape()));
    }

    @Override
    public String describe() {
        return "block" + width + "/" + heads;
    }
}
