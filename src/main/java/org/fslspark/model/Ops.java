package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/** Calls libnd4j's custom ops by name: the same kernels SameDiff runs, with oneDNN where built in. */
final class Ops {
    private Ops() {
    }

    static INDArray[] exec(String name, INDArray[] inputs, int[] intArgs, double... floatArgs) {
        return execInto(name, inputs, null, intArgs, floatArgs);
    }

    static INDArray exec1(String name, INDArray[] inputs, int[] intArgs, double... floatArgs) {
        return exec(name, inputs, intArgs, floatArgs)[0];
    }

    /**
     * Runs an op writing into the given (preallocated, reused) outputs. Reuse matters: on these VMs
     * a fresh 12 MB off-heap array costs ~35 ms in page faults, more than the op that fills it.
     */
    static INDArray[] execInto(String name, INDArray[] inputs, INDArray[] outputs, int[] intArgs, double... floatArgs) {
        return execInto(name, inputs, outputs, new boolean[0], intArgs, floatArgs);
    }

    /** As {@link #execInto(String, INDArray[], INDArray[], int[], double...)} with boolean arguments. */
    static INDArray[] execInto(String name, INDArray[] inputs, INDArray[] outputs, boolean[] boolArgs, int[] intArgs,
                               double... floatArgs) {
        DynamicCustomOp.DynamicCustomOpsBuilder builder = DynamicCustomOp.builder(name).addInputs(inputs);
        if (boolArgs.length > 0) {
            builder.addBooleanArguments(boolArgs);
        }
        if (outputs != null) {
            builder.addOutputs(outputs);
        }
        if (intArgs.length > 0) {
            builder.addIntegerArguments(intArgs);
        }
        if (floatArgs.length > 0) {
            Double[] boxed = new Double[floatArgs.length];
            for (int i = 0; i < floatArgs.length; i++) {
                boxed[i] = floatArgs[i];
            }
            builder.addFloatingPointArguments(boxed);
        }
        return Nd4j.exec(builder.build());
    }
}
