package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.List;
import java.util.Random;

/**
 * A layer made of sublayers (a transformer block, an attention layer). Its parameters are still one
 * contiguous slice of the network's flat vector, cut into consecutive sub-slices for the parts in
 * the order given, so FedAvg, the optimizer and the transport see an ordinary layer. The subclass
 * wires the parts together in {@link #forward} and {@link #backward}.
 */
abstract class CompositeLayer extends Layer {
    private final List<Layer> parts;

    CompositeLayer(List<Layer> parts) {
        this.parts = List.copyOf(parts);
    }

    @Override
    public final long numParams() {
        long n = 0;
        for (Layer part : parts) {
            n += part.trainableParams();
        }
        return n;
    }

    @Override
    final void bind(INDArray paramView, INDArray gradView) {
        super.bind(paramView, gradView);
        long offset = 0;
        for (Layer part : parts) {
            long n = part.trainableParams();
            if (n > 0) {
                part.bind(Views.slice(paramView, offset, n, 1, n), Views.slice(gradView, offset, n, 1, n));
            }
            offset += n;
        }
    }

    @Override
    final void initialize(Random rng) {
        for (Layer part : parts) {
            if (!part.frozen()) {
                part.initialize(rng);
            }
        }
    }

    @Override
    void freeze() {
        super.freeze();
        for (Layer part : parts) {
            part.freeze();
        }
    }

    /** The sublayers, in parameter order. */
    final List<Layer> parts() {
        return parts;
    }

    @Override
    final void discardStateUpdate() {
        for (Layer part : parts) {
            part.discardStateUpdate();
        }
    }

    @Override
    final boolean hasState() {
        return parts.stream().anyMatch(Layer::hasState);
    }

    @Override
    public void clearCache() {
        for (Layer part : parts) {
            part.clearCache();
        }
    }

    @Override
    public void releaseBuffers() {
        super.releaseBuffers();
        for (Layer part : parts) {
            part.releaseBuffers();
        }
    }
}
