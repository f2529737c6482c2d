package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.List;

/**
 * A ResNet basic block on NCHW activations: {@code relu(bn2(conv2(relu(bn1(conv1(x))))) + s(x))}
 * with 3x3 convolutions (the first strided) and the shortcut s the identity, or a strided 1x1
 * convolution and batch norm when the stride or the channel count changes (He et al.'s option B,
 * torchvision's downsample). Parameters, in order: conv1, bn1, conv2, bn2, then the shortcut's conv
 * and bn.
 */
public final class BasicBlock extends CompositeLayer {
    private final int in;
    private final int out;
    private final int stride;
    private final Layer conv1;
    private final BatchNorm2d bn1;
    private final Relu relu1;
    private final Layer conv2;
    private final BatchNorm2d bn2;
    private final Relu relu2;
    private final Layer shortcutConv;
    private final BatchNorm2d shortcutNorm;

    /** @param fanOut Kaiming initialisation over fan-out (torchvision) rather than fan-in (see {@link Conv2d#resnet}) */
    public BasicBlock(int in, int out, int stride, boolean fanOut) {
        this(in, out, stride, Conv2d.resnet(in, out, 3, stride, 1, fanOut), new BatchNorm2d(out),
                Conv2d.resnet(out, out, 3, 1, 1, fanOut), new BatchNorm2d(out),
                stride != 1 || in != out ? Conv2d.resnet(in, out, 1, stride, 0, fanOut) : null,
                stride != 1 || in != out ? new BatchNorm2d(out) : null);
    }

    private BasicBlock(int in, int out, int stride, Layer conv1, BatchNorm2d bn1, Layer conv2, BatchNorm2d bn2,
                       Layer shortcutConv, BatchNorm2d shortcutNorm) {
        super(parts(conv1, bn1, conv2, bn2, shortcutConv, shortcutNorm));
        this.in = in;
        this.out = out;
        this.stride = stride;
        this.conv1 = conv1;
        this.bn1 = bn1;
        this.relu1 = new Relu();
        this.conv2 = conv2;
        this.bn2 = bn2;
        this.relu2 = new Relu();
        this.shortcutConv = shortcutConv;
        this.shortcutNorm = shortcutNorm;
    }

    private static List<Layer> parts(Layer... layers) {
        List<Layer> parts = new ArrayList<>();
        for (Layer l : layers) {
            if (l != null) {
                parts.add(l);
            }
        }
        return parts;
    }

    @Override
    public long[] outputShape(long[] s) {
        return conv2.outputShape(conv1.outputShape(s));
    }

    @Override
    public long macsPerSample(long[] s) {
        long[] mid = conv1.outputShape(s);
        long macs = conv1.macsPerSample(s) + conv2.macsPerSample(mid) + 2 * bn1.macsPerSample(mid);
        return shortcutConv == null ? macs : macs + shortcutConv.macsPerSample(s) + shortcutNorm.macsPerSample(mid);
    }

    @Override
    public INDArray forward(INDArray x) {
        return forward(x, true);
    }

    @Override
    public INDArray forward(INDArray x, boolean training) {
        if (!training && fusable(x)) {
            return evaluate(x);
        }
        INDArray h = relu1.forward(bn1.forward(conv1.forward(x), training));
        INDArray branch = bn2.forward(conv2.forward(h), training);
        INDArray shortcut = shortcutConv == null ? x : shortcutNorm.forward(shortcutConv.forward(x), training);
        INDArray sum = Dnnl.add(branch, shortcut, buffer("sum", x.dataType(), branch.shape()));
        return relu2.forward(sum);
    }

    private boolean fusable(INDArray x) {
        return conv1 instanceof Conv2d c1 && !c1.hasBias() && conv2 instanceof Conv2d c2 && !c2.hasBias()
                && (shortcutConv == null || shortcutConv instanceof Conv2d s && !s.hasBias())
                && Dnnl.usable(x, c1.weight(), c2.weight()) && Dnnl.dense(x);
    }

    /** Evaluation as one fused oneDNN pass ({@link Dnnl.ResidualBlock}), equal to the layer-by-layer one within rounding. */
    private INDArray evaluate(INDArray x) {
        INDArray w1 = ((Conv2d) conv1).weight();
        INDArray w2 = ((Conv2d) conv2).weight();
        INDArray[] n1 = bn1.evaluationScaleShift();
        INDArray[] n2 = bn2.evaluationScaleShift();
        long[] o = outputShape(new long[]{x.size(1), x.size(2), x.size(3)});
        INDArray y = buffer("sum", x.dataType(), x.size(0), o[0], o[1], o[2]);
        if (shortcutConv == null) {
            Dnnl.residualBlock(x.shape(), w1.shape(), w2.shape(), null, stride).exec(x, w1, n1[0], n1[1], w2, n2[0], n2[1], y);
        } else {
            INDArray ws = ((Conv2d) shortcutConv).weight();
            INDArray[] ns = shortcutNorm.evaluationScaleShift();
            Dnnl.residualBlock(x.shape(), w1.shape(), w2.shape(), ws.shape(), stride)
                    .exec(x, w1, n1[0], n1[1], w2, n2[0], n2[1], ws, ns[0], ns[1], y);
        }
        return y;
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        return backward(gradOutput, true);
    }

    @Override
    public INDArray backward(INDArray gradOutput, boolean inputGradient) {
        INDArray gradSum = relu2.backward(gradOutput);
        INDArray gradBranch = conv1.backward(bn1.backward(relu1.backward(conv2.backward(bn2.backward(gradSum)))),
                inputGradient);
        if (shortcutConv == null) {
            return inputGradient ? Dnnl.add(gradBranch, gradSum, buffer("gradIn", gradSum.dataType(), gradSum.shape())) : null;
        }
        INDArray gradShortcut = shortcutConv.backward(shortcutNorm.backward(gradSum), inputGradient);
        return inputGradient ? Dnnl.add(gradBranch, gradShortcut, buffer("gradIn", gradShortcut.dataType(), gradShortcut.shape()))
                : null;
    }

    @Override
    public void clearCache() {
        super.clearCache();
        relu1.clearCache();
        relu2.clearCache();
    }

    @Override
    public void releaseBuffers() {
        super.releaseBuffers();
        relu1.releaseBuffers();
        relu2.releaseBuffers();
    }

    @Override
    public String describe() {
        return "block" + in + ">" + out + (stride > 1 ? "/" + stride : "");
    }
}
