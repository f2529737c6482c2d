package org.fslspark.runtime;

import org.fslspark.algorithm.AlgorithmSettings;
import org.fslspark.model.ModelSpec;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.SplitModel;
import org.fslspark.transport.FrameLimits;
import org.fslspark.transport.FrameLimits.Shape;
import org.fslspark.transport.Kind;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The frames each receiving end of a round accepts from another site ({@link FrameLimits}), derived
 * from the round's model and batch size: activations and gradients [1..b, cut shape], labels
 * b x targets per sample in [0, classes), models of exactly the parts' parameter counts.
 */
final class RoundLimits {
    private static final Map<String, Long> AUXILIARY_PARAMS = new ConcurrentHashMap<>();

    private RoundLimits() {
    }

    /**
     * What the model says about frames. {@code targets} per sample and {@code classes} come from the
     * server part's output: [classes] for an image model, [t, vocab] for a language model.
     *
     * @param auxParams parameters of the auxiliary model, 0 when the round uses none
     */
    record Shapes(int batch, long[] cut, long targets, int classes, long clientParams, long serverParams, long auxParams) {
    }

    /**
     * Client {@code client}'s shapes in the round: its cut's activations, its part's and its server part's parameters,
     * its auxiliary model's; computed once per run, cut and executor (building the model costs more than a round's
     * frames). Every client's are the same unless sites cut at different layers.
     */
    static Shapes shapes(RoundPlan p, int client) {
        boolean aux = p.rules().usesAuxiliary();
        ModelSpec spec = p.modelOf(client);
        return TaskState.get(p.runId() + "/frame-shapes/" + p.batchSize() + "/" + aux + "/" + spec, () -> {
            SplitModel m = p.buildModel(client);
            long[] out = m.server().outputShape();
            long targets = 1;
            for (int i = 0; i < out.length - 1; i++) {
                targets *= out[i];
            }
            return new Shapes(p.batchSize(), m.cutShape(), targets, (int) out[out.length - 1], m.client().params().length(),
                    m.server().params().length(), aux ? auxiliaryParams(spec, p.settings()) : 0);
        });
    }

    /** The shapes of client 0: every client's when they share one cut (as tests take them). */
    static Shapes shapes(RoundPlan p) {
        return shapes(p, 0);
    }

    /** The server site's end for every client of the round: what one of them may send (before its HELLO names it). */
    static FrameLimits serverEnd(RoundPlan p) {
        List<Shapes> all = new java.util.ArrayList<>();
        for (int client = 0; client < p.clients(); client++) {
            all.add(shapes(p, client));
        }
        return serverEnd(all);
    }

    /** The server site's end for client {@code client}'s frames: its shapes, its id. */
    static FrameLimits serverEnd(RoundPlan p, int client) {
        return serverEnd(List.of(shapes(p, client))).forClient(client);
    }

    /** Parameters of the auxiliary model the settings name (independent of the seed), once per JVM. */
    static long auxiliaryParams(ModelSpec model, AlgorithmSettings s) {
        return AUXILIARY_PARAMS.computeIfAbsent(model + "/" + s.auxiliary() + "/" + s.auxiliaryHidden(),
                k -> ModelZoo.auxiliary(model, s.auxiliary(), s.auxiliaryHidden(), 0).params().length());
    }

    /** The server site's end: smashed batches, the clients' final models (and auxiliary heads), of any of these shapes. */
    static FrameLimits serverEnd(List<Shapes> clients) {
        Map<Kind, List<Shape>> shapes = new EnumMap<>(Kind.class);
        for (Shapes s : clients) {
            add(shapes, Kind.ACTIVATIONS, Shape.batchOf(s.batch(), s.cut()));
            add(shapes, Kind.LABELS, Shape.upTo(s.batch() * s.targets()));
            add(shapes, Kind.MODEL, Shape.exact(1, s.clientParams()));
            if (s.auxParams() > 0) {
                add(shapes, Kind.AUXILIARY_MODEL, Shape.exact(1, s.auxParams()));
            }
        }
        Shapes any = clients.get(0); // the server's output, hence the labels, is every client's
        return FrameLimits.of(shapes).withLabels(any.targets(), any.classes());
    }

    /** Adds {@code shape} to {@code kind}'s allowed shapes unless an equal one is there. */
    private static void add(Map<Kind, List<Shape>> shapes, Kind kind, Shape shape) {
        List<Shape> list = shapes.computeIfAbsent(kind, k -> new java.util.ArrayList<>());
        if (list.stream().noneMatch(s -> java.util.Arrays.equals(s.min(), shape.min()) && java.util.Arrays.equals(s.max(), shape.max()))) {
            list.add(shape);
        }
    }

    /** A client's end: the client model, gradients at the cut, the server's error text. */
    static FrameLimits clientEnd(Shapes s) {
        Map<Kind, List<Shape>> shapes = new EnumMap<>(Kind.class);
        shapes.put(Kind.MODEL, List.of(Shape.exact(1, s.clientParams())));
        shapes.put(Kind.GRADIENTS, List.of(Shape.batchOf(s.batch(), s.cut())));
        shapes.put(Kind.CONTROL, List.of(Shape.upTo(FrameLimits.MAX_ERROR_CHARS)));
        if (s.auxParams() > 0) {
            shapes.put(Kind.AUXILIARY_MODEL, List.of(Shape.exact(1, s.auxParams())));
        }
        return FrameLimits.of(shapes);
    }

    /** Model vectors only: a client part, a server part or an auxiliary head (auxParams 0: none). */
    static FrameLimits models(long clientParams, long serverParams, long auxParams) {
        Map<Kind, List<Shape>> shapes = new EnumMap<>(Kind.class);
        shapes.put(Kind.MODEL, List.of(Shape.exact(1, clientParams), Shape.exact(1, serverParams)));
        if (auxParams > 0) {
            shapes.put(Kind.AUXILIARY_MODEL, List.of(Shape.exact(1, auxParams)));
        }
        return FrameLimits.of(shapes);
    }

    static FrameLimits models(Shapes s) {
        return models(s.clientParams(), s.serverParams(), s.auxParams());
    }

    /** Who sent or received a frame, for error messages: the institute and its client index. */
    static String institute(RoundPlan p, int client) {
        return client >= 0 && client < p.clients() ? "institute " + p.institutes().get(client) + " (client " + client + ")"
                : "client " + client;
    }
}
