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

    /** The round's shapes, computed once per run and executor (building the model costs more than a round's frames). */
    static Shapes shapes(RoundPlan p) {
        boolean aux = p.rules().usesAuxiliary();
        return TaskState.get(p.runId() + "/frame-shapes/" + p.batchSize() + "/" + aux, () -> {
            SplitModel m = p.buildModel();
            long[] out = m.server().outputShape();
            long targets = 1;
            for (int i = 0; i < out.length - 1; i++) {
                targets *= out[i];
            }
            return new Shapes(p.batchSize(), m.cutShape(), targets, (int) out[out.length - 1], m.client().params().length(),
                    m.server().params().length(), aux ? auxiliaryParams(p.model(), p.settings()) : 0);
        });
    }

    /** Parameters of the auxiliary model the settings name (independent of the seed), once per JVM. */
    static long auxiliaryParams(ModelSpec model, AlgorithmSettings s) {
        return AUXILIARY_PARAMS.computeIfAbsent(model + "/" + s.auxiliary() + "/" + s.auxiliaryHidden(),
                k -> ModelZoo.auxiliary(model, s.auxiliary(), s.auxiliaryHidden(), 0).params().length());
    }

    /** The server site's end: smashed batches, the clients' final models (and auxiliary heads). */
    static FrameLimits serverEnd(Shapes s) {
        Map<Kind, List<Shape>> shapes = new EnumMap<>(Kind.class);
        shapes.put(Kind.ACTIVATIONS, List.of(Shape.batchOf(s.batch(), s.cut())));
        shapes.put(Kind.LABELS, List.of(Shape.upTo(s.batch() * s.targets())));
        shapes.put(Kind.MODEL, List.of(Shape.exact(1, s.clientParams())));
        if (s.auxParams() > 0) {
            shapes.put(Kind.AUXILIARY_MODEL, List.of(Shape.exact(1, s.auxParams())));
        }
        return FrameLimits.of(shapes).withLabels(s.targets(), s.classes());
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
