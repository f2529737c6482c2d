package org.fslspark.model;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.GradientUpdater;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;

/**
 * ND4J's updater (Adam, SGD, ...) applied to a network's flat vectors. The state (e.g. Adam's
 * moments) stays with whoever owns the optimizer, across rounds: FedAvg averages weights only.
 */
public final class Optimizer {
    private final GradientUpdater<?> updater;
    /** The updater's whole state (e.g. Adam's two moments) as the flat vector its views live in; null for SGD. */
    private final INDArray state;
    private int iteration;

    public Optimizer(IUpdater config, long numParams) {
        this(config, numParams, DataType.FLOAT);
    }

    /** An optimizer whose state has the precision of the network it steps. */
    public Optimizer(IUpdater config, Network network) {
        this(config, network.numParams(), network.params().dataType());
    }

    private Optimizer(IUpdater config, long numParams, DataType dataType) {
        long stateSize = config.stateSize(numParams);
        this.state = stateSize > 0 ? Nd4j.zeros(dataType, 1, stateSize) : null;
        this.updater = config.instantiate(state, true);
        this.adam = config instanceof Adam a && a.getLearningRateSchedule() == null && dataType == DataType.FLOAT
                && state.length() == 2 * numParams ? a : null;
    }

    /** Plain float Adam (no schedule): stepped in one pass by {@link #adamStep}, else by ND4J's updater. */
    private final Adam adam;
    private static final int CHUNK = 1 << 14;
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[4][CHUNK]);

    /**
     * ND4J's Adam ({@code adam_updater}: Kingma and Ba's Algorithm 1 in its efficient form, in float,
     * state [m | v]) in one pass over the flat vectors, chunk by chunk on both cores: per value
     * {@code m = b1 m + (1 - b1) g}, {@code v = b2 v + (1 - b2) g^2},
     * {@code p -= alpha_t m / (sqrt(v) + eps)} with {@code alpha_t = lr sqrt(1 - b2^t) / (1 - b1^t)},
     * and the gradient cleared. ND4J's op took 6 ns per parameter here (65 ms for 11M), then two more
     * passes to subtract and to zero; this loop reads and writes each array once.
     */
    private void adamStep(INDArray params, INDArray grads) {
        int t = iteration++;
        float lr = (float) adam.getLearningRate(t, 0);
        float b1 = (float) adam.getBeta1();
        float b2 = (float) adam.getBeta2();
        float eps = (float) adam.getEpsilon();
        float b1t = (float) Math.pow(b1, t + 1);
        float b2t = (float) Math.pow(b2, t + 1);
        float alpha = lr * (float) Math.sqrt(1f - b2t) / (1f - b1t);
        if (Float.isNaN(alpha) || Float.isInfinite(alpha) || alpha == 0f) {
            alpha = eps; // as libnd4j's helper does
        }
        long n = params.length();
        java.nio.FloatBuffer p = params.data().asNioFloat();
        java.nio.FloatBuffer g = grads.data().asNioFloat();
        java.nio.FloatBuffer st = state.data().asNioFloat();
        int pOff = (int) params.offset();
        int gOff = (int) grads.offset();
        int mOff = (int) state.offset();
        int vOff = (int) (state.offset() + n);
        float a = alpha;
        int chunks = (int) ((n + CHUNK - 1) / CHUNK);
        java.util.stream.IntStream.range(0, chunks).parallel().forEach(c -> {
            int from = c * CHUNK;
            int len = (int) Math.min(CHUNK, n - from);
            float[][] scratch = SCRATCH.get();
            float[] pc = scratch[0];
            float[] gc = scratch[1];
            float[] mc = scratch[2];
            float[] vc = scratch[3];
            p.get(pOff + from, pc, 0, len);
            g.get(gOff + from, gc, 0, len);
            st.get(mOff + from, mc, 0, len);
            st.get(vOff + from, vc, 0, len);
            for (int i = 0; i < len; i++) {
                float gi = gc[i];
                float m = b1 * mc[i] + gi * (1f - b1);
                float v = b2 * vc[i] + gi * gi * (1f - b2);
                mc[i] = m;
                vc[i] = v;
                pc[i] -= m * a / ((float) Math.sqrt(v) + eps);
            }
            java.util.Arrays.fill(gc, 0, len, 0f);
            p.put(pOff + from, pc, 0, len);
            g.put(gOff + from, gc, 0, len);
            st.put(mOff + from, mc, 0, len);
            st.put(vOff + from, vc, 0, len);
        });
    }

    /**
     * params -= update(grads); the gradient vector is consumed (overwritten with the update). Slots of
     * non-trained state (batch normalisation's running statistics) get no update: their gradient is
     * zero going in (so Adam's moments for them stay zero) and their update is zeroed coming out.
     */
    public void step(Network network) {
        if (adam != null && !network.hasState() && Dnnl.usable(network.params(), network.grads(), state)) {
            adamStep(network.params(), network.grads());
            return;
        }
        network.discardStateUpdates();
        updater.applyUpdater(network.grads(), iteration++, 0);
        network.discardStateUpdates();
        network.params().subi(network.grads());
        network.zeroGrads();
    }

    public int iterations() {
        return iteration;
    }

    /** The updater's name, e.g. "Adam", "Nesterovs", "Sgd". */
    public String name() {
        return updater.getConfig().getClass().getSimpleName();
    }

    /** A copy of the updater's state vector ([1, stateSize]), or null when it keeps none (SGD). */
    public INDArray state() {
        return state == null ? null : state.dup();
    }

    /**
     * Continues from a saved {@link #state()} and iteration count: the next step is then exactly the one
     * the saved optimizer would have taken. The values are copied into the updater's own views.
     */
    public void restore(INDArray saved, int iterations) {
        if ((saved == null) != (state == null) || (saved != null && saved.length() != state.length())) {
            throw new IllegalArgumentException("optimizer state of " + (saved == null ? 0 : saved.length())
                    + " values does not fit this optimizer's " + (state == null ? 0 : state.length()));
        }
        if (state != null) {
            state.assign(saved.reshape(state.shape()));
        }
        this.iteration = iterations;
    }
}
