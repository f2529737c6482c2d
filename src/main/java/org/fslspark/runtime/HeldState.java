package org.fslspark.runtime;

import org.fslspark.algorithm.AlignmentBuffer;
import org.fslspark.algorithm.Client;
import org.fslspark.algorithm.Learner;
import org.fslspark.algorithm.SmashedBatch;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.Tensor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What an executor holds between rounds, as bytes the driver keeps and checkpoints: learners (parameters,
 * optimizer state and step count), a client's learners by part, alignment buffers. Encoded as frames
 * (float32, exact for the runtime's float networks). These bytes reach the driver through Spark's task
 * results, never through a metered link: they are not traffic of the algorithms.
 */
final class HeldState {
    private HeldState() {
    }

    /** Adds the encoded state of {@code value} (a Learner, AlignmentBuffer or Client) under {@code name}. */
    static void save(String name, Object value, Map<String, byte[]> out) {
        if (value instanceof Learner l) {
            out.put(name, encode(l));
        } else if (value instanceof AlignmentBuffer b) {
            out.put(name, encode(b));
        } else if (value instanceof Client c) {
            c.learners().forEach((part, l) -> out.put(name + "/" + part, encode(l)));
        } else {
            throw new IllegalArgumentException(name + ": no saved form for " + value.getClass().getSimpleName());
        }
    }

    static Map<String, byte[]> save(String name, Object value) {
        Map<String, byte[]> out = new HashMap<>();
        save(name, value, out);
        return out;
    }

    /** A freshly made {@code value} with what {@code saved} holds for {@code name} put back, if anything. */
    static <T> T restored(String name, T value, Map<String, byte[]> saved) {
        if (value instanceof Client c) {
            c.learners().forEach((part, l) -> restore(l, saved.get(name + "/" + part)));
        } else if (value instanceof Learner l) {
            restore(l, saved.get(name));
        } else if (value instanceof AlignmentBuffer b && saved.containsKey(name)) {
            Message m = FrameCodec.decode(saved.get(name));
            int[] iterations = m.tensor(0).ints();
            for (int i = 0; i < iterations.length; i++) {
                b.add(new SmashedBatch(m.client(), iterations[i], m.tensor(1 + 2 * i).toArray(),
                        m.tensor(2 + 2 * i).ints()));
            }
        }
        return value;
    }

    private static byte[] encode(Learner l) {
        List<Tensor> tensors = new ArrayList<>(List.of(Tensor.of(Kind.MODEL, l.network().params())));
        if (l.optimizer().state() != null) {
            tensors.add(Tensor.of(Kind.MODEL, l.optimizer().state()));
        }
        return FrameCodec.encode(new Message(Message.Type.MODEL, -1, l.optimizer().iterations(), tensors));
    }

    private static void restore(Learner l, byte[] frame) {
        if (frame == null) {
            return;
        }
        Message m = FrameCodec.decode(frame);
        l.network().setParams(m.tensor(0).toArray());
        l.optimizer().restore(m.tensors().size() > 1 ? m.tensor(1).toArray() : null, (int) m.sequence());
    }

    /** The batches in order: their local iterations, then each batch's activations and labels. */
    private static byte[] encode(AlignmentBuffer b) {
        List<SmashedBatch> batches = b.batches();
        int[] iterations = new int[batches.size()];
        List<Tensor> tensors = new ArrayList<>();
        tensors.add(null);
        int client = -1;
        for (int i = 0; i < batches.size(); i++) {
            SmashedBatch s = batches.get(i);
            iterations[i] = (int) s.iteration();
            client = s.client();
            tensors.add(Tensor.of(Kind.ACTIVATIONS, s.activations()));
            tensors.add(Tensor.ofInts(Kind.LABELS, s.labels()));
        }
        tensors.set(0, Tensor.ofInts(Kind.CONTROL, iterations));
        return FrameCodec.encode(new Message(Message.Type.SMASHED, client, 0, tensors));
    }
}
