package org.fslspark.model;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

import java.util.List;
import java.util.function.DoubleSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** LoRA adapters on a frozen GPT: exact at B = 0, only adapters train, gradients, merging. */
class LoraTest {
    private static final ModelSpec TINY = ModelSpec.gpt(11, 6, 8, 2, 2, 1);
    private static final Lora ALL = new Lora(2, 4, Lora.PROJECTIONS);

    @Test
    void freshAdaptersLeaveTheBaseModelsLogitsExactlyUnchanged() {
        Network base = ModelZoo.full(TINY, 3);
        INDArray x = GptTest.tokens(1, 3, 6, 11, DataType.FLOAT);
        INDArray expected = base.forward(x);
        Network lora = ALL.full(TINY, base.params(), 5);
        // 2 blocks x (q, k, v, output, mlp-in, mlp-out): A [8, 2] and B [2, out] each
        long perBlock = 3 * 2L * (8 + 8) + 2L * (8 + 8) + 2L * (8 + 32) + 2L * (32 + 8);
        assertEquals(2 * perBlock, lora.numParams());
        assertEquals(expected, lora.forward(x));
        SplitModel split = ALL.split(TINY, base.params(), 5);
        assertEquals(lora.params(), split.fullParams());
        assertEquals(expected, split.server().forward(split.client().forward(x)));
    }

    @Test
    void trainingChangesOnlyTheAdaptersAndLowersTheLoss() {
        Network base = ModelZoo.full(TINY, 3);
        // a "pre-trained" base whose logits are far from uniform, so that adapters can move them
        base.params().assign(FiniteDifferences.random(4, base.params().shape()).muli(0.5).castTo(DataType.FLOAT));
        Network lora = ALL.full(TINY, base.params(), 5);
        INDArray adapters = lora.params().dup();
        INDArray x = GptTest.tokens(1, 4, 6, 11, DataType.FLOAT);
        INDArray expected = base.forward(x);
        int[] y = new int[24]; // a learnable rule: the next token is the current one plus 1
        for (int i = 0; i < y.length; i++) {
            y[i] = ((int) x.getDouble(i / 6, i % 6) + 1) % 11;
        }
        Optimizer adam = new Optimizer(new Adam(3e-2), lora);
        double first = 0;
        double last = 0;
        for (int step = 0; step < 8; step++) {
            lora.zeroGrads();
            CrossEntropy.Result r = CrossEntropy.evaluate(lora.forward(x), y, true);
            lora.backward(r.gradient(), false);
            adam.step(lora);
            last = r.meanLoss();
            first = step == 0 ? last : first;
        }
        assertTrue(last < first - 0.1, "loss " + first + " -> " + last);
        assertFalse(adapters.equals(lora.params()), "the adapters did not train");
        // With the adapters at zero the network computes with its frozen weights alone: still the base, bitwise.
        lora.params().assign(0);
        assertEquals(expected, lora.forward(x));
    }

    @Test
    void adapterGradientsMatchFiniteDifferences() {
        INDArray base = ModelZoo.full(TINY, 3, DataType.DOUBLE).params();
        Network net = ALL.full(TINY, base, 5, DataType.DOUBLE);
        // B starts at zero, where A's gradient vanishes; random adapters exercise both.
        net.params().assign(FiniteDifferences.random(4, net.params().shape()).muli(0.5));
        INDArray x = GptTest.tokens(5, 2, 6, 11, DataType.DOUBLE);
        int[] y = GptTest.targets(7, 2, 6, 11);
        net.zeroGrads();
        net.backward(CrossEntropy.evaluate(net.forward(x), y, true).gradient(), false);
        INDArray grads = net.grads().dup();
        DoubleSupplier loss = () -> CrossEntropy.evaluate(net.forward(x), y, false).meanLoss();
        FiniteDifferences.check("lora", net.params(), grads, FiniteDifferences.randomProbes(net.numParams(), 24, 9), loss);
    }

    @Test
    void mergedAdaptersGiveTheAdaptedModelsLogits() {
        Network base = ModelZoo.full(TINY, 3);
        Network lora = ALL.full(TINY, base.params(), 5);
        lora.params().assign(FiniteDifferences.random(4, lora.params().shape()).muli(0.3).castTo(DataType.FLOAT));
        INDArray x = GptTest.tokens(1, 3, 6, 11, DataType.FLOAT);
        INDArray adapted = lora.forward(x);
        Network merged = ModelZoo.full(TINY, 99);
        merged.setParams(ALL.merge(TINY, base.params(), lora.params()));
        assertTrue(adapted.equalsWithEps(merged.forward(x), 1e-4), "merged logits differ");
        assertFalse(adapted.equalsWithEps(base.forward(x), 1e-2), "the adapters changed nothing");
    }
}
