package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastAddOp;
import org.nd4j.linalg.factory.Nd4j;

/** The mean over height and width of NCHW activations: [b, c, h, w] to [b, c]. */
public final class GlobalAvgPool extends Layer {
    private long[] inputShape;

    @Override
    public long[] outputShape(long[] s) {
        if (s.length != 3) {
            throw new IllegalArgumentException("global average pool expects [c, h, w] input, got " + java.util.Arrays.toString(s));
        }
        return new long[]{s[0]};
    }

    @Override
    public long macsPerSample(long[] s) {
        return s[0] * s[1] * s[2];
    }

    @Override
    public INDArray forward(INDArray x) {
        inputShape = x.shape();
        return x.mean(buffer("out", x.dataType(), x.size(0), x.size(1)), 2, 3);
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        INDArray g = buffer("gradIn", gradOutput.dataType(), inputShape).assign(0);
        INDArray share = gradOutput.div(inputShape[2] * inputShape[3]);
        return Nd4j.exec(new BroadcastAddOp(g, share, g, 0, 1));
    }

    @Override
    public String describe() {
        return "avgpool";
    }
}
