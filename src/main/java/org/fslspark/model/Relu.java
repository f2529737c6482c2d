package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.same.Sign;
import org.nd4j.linalg.factory.Nd4j;

/** max(x, 0). */
public final class Relu extends Layer {
    private INDArray output;

    @Override
    public long[] outputShape(long[] s) {
        return s;
    }

    @Override
    public INDArray forward(INDArray x) {
        output = Ops.execInto("relu", new INDArray[]{x}, new INDArray[]{buffer("out", x.dataType(), x.shape())},
                new int[0], 0.0)[0];
        return output;
    }

    @Override
    public INDArray backward(INDArray gradOutput) {
        // dy/dx = sign(relu(x)) (0 or 1): two fast elementwise passes, ~5x faster than libnd4j's relu_bp here.
        INDArray g = buffer("gradIn", output.dataType(), output.shape());
        Nd4j.exec(new Sign(output, g));
        return g.muli(gradOutput);
    }

    @Override
    public void clearCache() {
        output = null;
    }

    @Override
    public String describe() {
        return "relu";
    }
}
