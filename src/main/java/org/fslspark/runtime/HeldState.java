package org.fslspark.runtime;

import org.fslspark.algorithm.AlignmentBuffer;
import org.fslspark.algorithm.Client;
import org.fslspark.algorithm.Learner;
import org.fslspark.algorithm.SmashedBatch;
import org.fslspark.metrics.HadoopFiles;
import org.fslspark.model.Optimizer;
import org.fslspark.transport.ErrorFeedback;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.FrameWriter;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.NonFiniteValueException;
import org.fslspark.transport.Tensor;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What an executor holds between rounds, as bytes the driver keeps ({@link HeldCopy}) and checkpoints: learners (parameters,
 * optimizer state and step count), a client's learners by part, alignment buffers, the residuals of top-k
 * error feedback. Encoded as frames (float32, exact for the runtime's float networks). These bytes reach the driver through Spark's task
 * results, never through a metered link: they are not traffic of the algorithms.
 */
final class HeldState {
    private HeldState() {
    }

    /**
     * Adds the encoded state of {@code value} (a Learner, AlignmentBuffer or Client) under {@code name}; a learner whose
     * parameters or optimizer state hold a value that is not finite is refused ({@link NonFiniteState}).
     */
    static void save(String name, Object value, Map<String, Encoded> out) {
        if (value instanceof Learner l) {
            out.put(name, new Frame(encode(name, l)));
        } else if (value instanceof AlignmentBuffer b) {
            out.put(name, encode(b));
        } else if (value instanceof Client c) {
            c.learners().forEach((part, l) -> out.put(name + "/" + part, new Frame(encode(name + "/" + part, l))));
        } else if (value instanceof ErrorFeedback f) {
            out.put(name, new Frame(encode(f)));
        } else {
            throw new IllegalArgumentException(name + ": no saved form for " + value.getClass().getSimpleName());
        }
    }

    static Map<String, Encoded> save(String name, Object value) {
        Map<String, Encoded> out = new HashMap<>();
        save(name, value, out);
        return out;
    }

    /**
     * {@link #save(String, Object, Map)} at the end of the plan's round: a learner that is not finite (an optimizer's
     * moments that overflowed while its parameters stayed finite, say) stops the run as a {@link Divergence} naming the
     * round and the institute or server site that holds it, before anything of the round is kept.
     */
    static void save(RoundPlan plan, String name, Object value, Map<String, Encoded> out) {
        try {
            save(name, value, out);
        } catch (NonFiniteState e) {
            throw new Divergence(Divergence.MARKER + plan.round() + ", " + owner(plan, name) + ": " + e.getMessage()
                    + " at the round's end", e);
        }
    }

    /** {@link #save(RoundPlan, String, Object, Map)} into a new map. */
    static Map<String, Encoded> save(RoundPlan plan, String name, Object value) {
        Map<String, Encoded> out = new HashMap<>();
        save(plan, name, value, out);
        return out;
    }

    /**
     * {@link #restored} for the plan's round: a saved state that is not finite (a checkpoint written before it was
     * checked, or altered since) stops the run as a {@link Divergence} naming the round and who holds it.
     */
    static <T> T restored(RoundPlan plan, String name, T value) {
        try {
            return restored(name, value, HeldCopy.frames(plan.restore(), name, SiteData.hadoopConf(plan.hadoopConf())));
        } catch (NonFiniteValueException e) {
            throw new Divergence(Divergence.MARKER + plan.round() + ", " + owner(plan, name) + ": its saved training state '"
                    + name + "', which the round starts from, is not finite: " + e.getMessage(), e);
        }
    }

    /** Who holds entry {@code name}: the institute of a client's entries ("client/3", "feedback/3"), else the server site. */
    static String owner(RoundPlan plan, String name) {
        String[] parts = name.split("/");
        return (parts[0].equals("client") || parts[0].equals("feedback")) && parts.length > 1
                ? RoundLimits.institute(plan, Integer.parseInt(parts[1])) : "server site " + plan.serverSite();
    }

    /**
     * An entry's encoded form: a frame, or one written where it is kept without being whole in memory (an alignment
     * buffer's, batch by batch: {@link FrameWriter}). Either is the same bytes.
     */
    @FunctionalInterface
    interface Encoded extends HadoopFiles.Content {
        /** The frame whole: what a task returns inline. */
        default byte[] frame() {
            java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
            try {
                writeTo(b);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            return b.toByteArray();
        }
    }

    /** An encoded entry held as its frame. */
    record Frame(byte[] frame) implements Encoded {
        @Override
        public void writeTo(OutputStream out) throws IOException {
            out.write(frame);
        }
    }

    /** A learner whose parameters or optimizer state hold a value that is not finite. */
    static final class NonFiniteState extends IllegalStateException {
        NonFiniteState(String message) {
            super(message);
        }
    }

    /** The training-state entry a saved name belongs to: a client's learners are saved by part ("client/3/model"). */
    static String entryOf(String saved) {
        String[] parts = saved.split("/");
        return parts[0].equals("client") && parts.length > 2 ? parts[0] + "/" + parts[1] : saved;
    }

    /** Whether {@code saved} holds entry {@code name}. */
    static boolean covers(Map<String, ?> saved, String name) {
        return saved.keySet().stream().anyMatch(k -> entryOf(k).equals(name));
    }

    /** A freshly made {@code value} with what {@code saved} holds for {@code name} put back, if anything. */
    static <T> T restored(String name, T value, Map<String, byte[]> saved) {
        if (value instanceof Client c) {
            c.learners().forEach((part, l) -> restore(l, saved.get(name + "/" + part)));
        } else if (value instanceof Learner l) {
            restore(l, saved.get(name));
        } else if (value instanceof AlignmentBuffer b && saved.containsKey(name)) {
            restore(b, FrameCodec.decode(saved.get(name)));
        } else if (value instanceof ErrorFeedback f && saved.containsKey(name)) {
            Map<Kind, ErrorFeedback.Residual> residuals = new java.util.EnumMap<>(Kind.class);
            for (Tensor t : FrameCodec.decode(saved.get(name)).tensors()) {
                residuals.put(t.kind(), new ErrorFeedback.Residual(t.shape(), t.floats()));
            }
            f.restore(residuals);
        }
        return value;
    }

    /**
     * The parameters, then the optimizer's state (none for SGD), its step count as the sequence number. A learner with an
     * optimizer per segment (a server part clients enter at different cuts) has instead, after the parameters, the
     * segments' step counts (a CONTROL tensor) and then the state of each segment that has one, in layer order. Every
     * value is checked finite ({@link NonFiniteState} naming {@code name}).
     */
    private static byte[] encode(String name, Learner l) {
        Tensor params = Tensor.of(Kind.MODEL, l.network().params());
        requireFinite(name, "its parameters hold ", params.floats());
        List<Tensor> tensors = new ArrayList<>(List.of(params));
        List<Optimizer> optimizers = l.optimizers();
        boolean segments = optimizers.size() > 1;
        if (segments) {
            tensors.add(Tensor.ofInts(Kind.CONTROL, optimizers.stream().mapToInt(o -> o == null ? 0 : o.iterations()).toArray()));
        }
        for (Optimizer o : optimizers) {
            if (o != null && o.state() != null) {
                Tensor state = Tensor.of(Kind.MODEL, o.state());
                float[] v = state.floats();
                requireFinite(name, "its optimizer state (" + o.name() + ", " + v.length + " values) holds ", v);
                tensors.add(state);
            }
        }
        return FrameCodec.encode(new Message(Message.Type.MODEL, -1, segments ? 0 : l.optimizer().iterations(), tensors));
    }

    private static void requireFinite(String name, String what, float[] v) {
        for (int i = 0; i < v.length; i++) {
            if (!Float.isFinite(v[i])) {
                throw new NonFiniteState("its training state '" + name + "' is not finite: " + what + v[i] + " at index " + i);
            }
        }
    }

    /** A residual per kind, as a float32 tensor of that kind and its shape (exact). */
    private static byte[] encode(ErrorFeedback f) {
        List<Tensor> tensors = new ArrayList<>();
        f.residuals().forEach((kind, r) -> tensors.add(new Tensor(kind, r.shape(), r.values(), null)));
        return FrameCodec.encode(new Message(Message.Type.MODEL, -1, 0, tensors));
    }

    private static void restore(Learner l, byte[] frame) {
        if (frame == null) {
            return;
        }
        Message m = FrameCodec.decode(frame);
        l.network().setParams(m.tensor(0).toArray());
        List<Optimizer> optimizers = l.optimizers();
        if (optimizers.size() == 1) {
            l.optimizer().restore(m.tensors().size() > 1 ? m.tensor(1).toArray() : null, (int) m.sequence());
            return;
        }
        int[] iterations = m.tensor(1).ints();
        if (iterations.length != optimizers.size()) {
            throw new IllegalArgumentException("saved state of " + iterations.length + " segments for a learner of " + optimizers.size());
        }
        int next = 2;
        for (int i = 0; i < optimizers.size(); i++) {
            Optimizer o = optimizers.get(i);
            if (o != null) {
                boolean stateful = o.state() != null;
                o.restore(stateful ? m.tensor(next++).toArray() : null, iterations[i]);
            }
        }
    }

    /**
     * The batches in order, as four tensors whatever their number (a frame holds at most 255), none if there are
     * none: their local iterations, their sizes in samples, and all activations and all labels concatenated oldest
     * first. Written batch by batch from the buffer as it is now (buffered batches never change), never concatenated:
     * a buffer is 12.5 MB at fmnist_cnn's cut, and three whole copies of four of them took 0.2-0.5 s a round.
     */
    private static Encoded encode(AlignmentBuffer b) {
        List<SmashedBatch> batches = b.batches();
        return out -> {
            if (batches.isEmpty()) { // no tensors: a dimension of 0 is refused when read
                new FrameWriter(out, Message.Type.SMASHED, -1, 0, 0);
                return;
            }
            FrameWriter w = new FrameWriter(out, Message.Type.SMASHED, batches.get(0).client(), 0, 4);
            w.ints(Kind.CONTROL, batches.stream().mapToInt(x -> (int) x.iteration()).toArray());
            int[] sizes = batches.stream().mapToInt(x -> (int) x.activations().size(0)).toArray();
            w.ints(Kind.CONTROL, sizes);
            long[] shape = batches.get(0).activations().shape().clone();
            shape[0] = Arrays.stream(sizes).sum();
            w.float32(Kind.ACTIVATIONS, shape, batches.stream().map(SmashedBatch::activations).toList());
            w.ints(Kind.LABELS, batches.stream().flatMapToInt(x -> Arrays.stream(x.labels())).toArray());
        };
    }

    private static void restore(AlignmentBuffer b, Message m) {
        if (m.tensors().isEmpty()) {
            return;
        }
        int[] iterations = m.tensor(0).ints();
        int[] sizes = m.tensor(1).ints();
        INDArray z = m.tensor(2).toArray();
        int[] labels = m.tensor(3).ints();
        int perSample = labels.length / (int) z.size(0);
        int start = 0;
        for (int i = 0; i < iterations.length; i++) {
            int end = start + sizes[i];
            b.add(new SmashedBatch(m.client(), iterations[i], z.get(NDArrayIndex.interval(start, end)).dup(),
                    Arrays.copyOfRange(labels, start * perSample, end * perSample)));
            start = end;
        }
    }
}
