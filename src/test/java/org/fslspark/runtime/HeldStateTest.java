package org.fslspark.runtime;

import org.fslspark.algorithm.AlignmentBuffer;
import org.fslspark.algorithm.Learner;
import org.fslspark.algorithm.SmashedBatch;
import org.fslspark.config.OptimizerSpec;
import org.fslspark.model.Dense;
import org.fslspark.model.Network;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.Tensor;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** Saved executor state rebuilds learners and buffers that then behave exactly as the originals. */
class HeldStateTest {

    private static Learner learner(String optimizer) {
        Network net = new Network(List.of(new Dense(4, 3)), new long[]{4}).initialize(new Random(7));
        return new Learner(net, new OptimizerSpec(optimizer, 0.01, 0.9).toUpdater());
    }

    private static void stepOn(Learner l, int seed) {
        l.network().grads().assign(Nd4j.rand(new Random(seed).nextLong(), l.network().grads().shape()).subi(0.5));
        l.step();
    }

    /** Dense, ReLU, dense, an optimizer per segment (from layer 0, and from 2 as a deeper cut enters): docs/CUTS.md. */
    private static Learner segmented(String optimizer) {
        Network net = new Network(List.of(new Dense(4, 3), new org.fslspark.model.Relu(), new Dense(3, 2)), new long[]{4})
                .initialize(new Random(7));
        return new Learner(net, new OptimizerSpec(optimizer, 0.01, 0.9).toUpdater(), new int[]{0, 2});
    }

    @Test
    void aRestoredLearnerWithASegmentPerCutTakesTheSameNextSteps() {
        for (String optimizer : List.of("adam", "sgd")) {
            Learner original = segmented(optimizer);
            stepOn(original, 1);
            stepOn(original.from(2), 2); // the top segment alone: its step count differs from the bottom's
            Learner fresh = HeldState.restored("server/shared", segmented(optimizer), frames(HeldState.save("server/shared", original)));
            assertEquals(List.of(1, 2), fresh.optimizers().stream().map(o -> o.iterations()).toList());
            for (int seed : new int[]{3, 4}) {
                stepOn(original.from(seed == 3 ? 0 : 2), seed);
                stepOn(fresh.from(seed == 3 ? 0 : 2), seed);
                assertArrayEquals(original.network().params().toFloatVector(), fresh.network().params().toFloatVector(), optimizer);
            }
        }
    }

    @Test
    void aRestoredLearnerTakesTheSameNextStep() {
        for (String optimizer : List.of("adam", "nesterovs", "sgd")) {
            Learner original = learner(optimizer);
            for (int i = 0; i < 3; i++) {
                stepOn(original, i);
            }
            Map<String, byte[]> saved = frames(HeldState.save("server/shared", original));
            Learner fresh = HeldState.restored("server/shared", learner(optimizer), saved);
            assertEquals(original.optimizer().iterations(), fresh.optimizer().iterations());
            stepOn(original, 9);
            stepOn(fresh, 9);
            assertArrayEquals(original.network().params().toFloatVector(), fresh.network().params().toFloatVector(), optimizer);
            // Without the optimizer state the same step differs (Adam's and Nesterov's moments matter).
            if (!optimizer.equals("sgd")) {
                Learner paramsOnly = learner(optimizer);
                paramsOnly.network().setParams(fresh.network().params().dup());
                stepOn(paramsOnly, 10);
                stepOn(fresh, 10);
                assertFalse(paramsOnly.network().params().equals(fresh.network().params()), optimizer);
            }
        }
    }

    @Test
    void aRestoredBufferHoldsTheSameBatchesInOrder() {
        AlignmentBuffer original = new AlignmentBuffer(5);
        original.add(new SmashedBatch(1, 0, Nd4j.rand(3, 2), new int[]{0, 1, 2}));
        original.add(new SmashedBatch(1, 2, Nd4j.rand(3, 2), new int[]{3, 4, 5})); // drops the oldest sample
        Map<String, byte[]> saved = frames(HeldState.save("server/buffer/1", original));
        AlignmentBuffer fresh = HeldState.restored("server/buffer/1", new AlignmentBuffer(5), saved);
        assertEquals(original.samples(), fresh.samples());
        assertEquals(List.of(0L, 2L), fresh.batches().stream().map(SmashedBatch::iteration).toList());
        assertEquals(original.contents().activations(), fresh.contents().activations());
        assertArrayEquals(original.contents().labels(), fresh.contents().labels());
        assertEquals(1, fresh.newest().client());
        // Written batch by batch, the frame is the one the whole buffer encodes to.
        SmashedBatch all = original.contents();
        assertArrayEquals(FrameCodec.encode(new Message(Message.Type.SMASHED, 1, 0, List.of(Tensor.ofInts(Kind.CONTROL, new int[]{0, 2}),
                Tensor.ofInts(Kind.CONTROL, new int[]{2, 3}), Tensor.of(Kind.ACTIVATIONS, all.activations()),
                Tensor.ofInts(Kind.LABELS, all.labels())))), saved.get("server/buffer/1"));
    }

    @Test
    void anEmptyBufferIsRestoredEmpty() {
        AlignmentBuffer fresh = HeldState.restored("server/buffer/2", new AlignmentBuffer(5),
                frames(HeldState.save("server/buffer/2", new AlignmentBuffer(5))));
        assertEquals(0, fresh.samples());
    }

    private static Map<String, byte[]> frames(Map<String, HeldState.Encoded> saved) {
        Map<String, byte[]> out = new java.util.TreeMap<>();
        saved.forEach((name, e) -> out.put(name, e.frame()));
        return out;
    }
}
