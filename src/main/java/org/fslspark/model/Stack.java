package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.List;

/**
 * Layers run one after the other as one layer: a ResNet's stem or stage, so that a model's cut
 * counts stages rather than the layers inside them.
 */
final class Stack extends CompositeLayer {
    private final String name;

    Stack(String name, List<Layer> parts) {
        super(parts);
        this.name = name;
    }

    @Override
    public long[] outputShape(long[] s) {
        for (Layer part : parts()) {
            s = part.outputShape(s);
        }
        return s;
    }

    @Override
    public long macsPerSample(long[] s) {
        long macs = 0;
        for (Layer part : parts()) {
            macs += part.macsPerSample(s);
            s = part.outputShape(s);
        }
        return macs;
    }

    @Override
    public INDArray forward(INDArray x) {
        return forward(x, true);
    }

    @Override
    public INDArray forward(INDArray x, boolean training) {
        for (Layer part : parts()) {
            x = part.forward(x, training);
        }
        return x;
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        return backward(gradOutput, true);
    }

    @Override
    public INDArray backward(INDArray gradOutput, boolean inputGradient) {
        List<Layer> parts = parts();
        INDArray g = gradOutput;
        for (int i = parts.size() - 1; i >= 0; i--) {
            g = parts.get(i).backward(g, inputGradient || i > 0);
        }
        return g;
    }

    @Override
    public String describe() {
        return name;
    }
}
