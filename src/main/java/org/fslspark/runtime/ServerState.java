package org.fslspark.runtime;

import org.fslspark.algorithm.AlignmentBuffer;
import org.fslspark.algorithm.Learner;
import org.fslspark.algorithm.Server;
import org.fslspark.model.CutLayout;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.Network;
import org.fslspark.transport.ErrorFeedback;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.FrameLimits;
import org.fslspark.transport.Kind;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Map;
import java.util.function.Supplier;

/**
 * The server site's state for a round, backed by its executor's memory across rounds: the server
 * model and its optimizer, per-client copies (SplitFed-V1), alignment buffers and auxiliary models
 * (FSL-SAGE), the error feedback of top-k gradients, each under a name ("server/shared", "server/copy/i",
 * "server/buffer/i", "server/auxiliary/i", "server/feedback/i"). Each round's server part starts from the driver's global x_s.
 * When sites cut at different layers (docs/CUTS.md), x_s begins at the shallowest cut, client i's batches enter it at
 * client i's cut, and a copy (SplitFed-V1) or auxiliary model has client i's shapes.
 */
final class ServerState {
    private static final String PREFIX = "server/";

    private ServerState() {
    }

    static Server forRound(RoundPlan plan) {
        Learner shared = held(plan, "shared");
        shared.network().setParams(row(plan.globalServer()));
        return withShared(plan, shared, false);
    }

    /**
     * The server's per-client state around a given server learner (alignment tasks bring their own copy of x_s and
     * only read the buffers: {@code aligner}).
     */
    static Server withShared(RoundPlan plan, Learner shared, boolean aligner) {
        // A resumed run rebuilds every saved entry now: some (an auxiliary learner) are next used rounds later.
        plan.restore().keySet().stream().filter(n -> n.startsWith(PREFIX))
                .forEach(n -> TaskState.read(plan, n, factory(plan, n.substring(PREFIX.length()))));
        INDArray global = row(plan.globalServer());
        CutLayout layout = plan.layout();
        // Checked like any frame from another site; computed here, as TaskState.get must not nest.
        Map<Integer, FrameLimits> downloads = new java.util.HashMap<>();
        plan.auxiliaryDownloads().keySet().forEach(client -> downloads.put(client, RoundLimits.models(RoundLimits.shapes(plan, client))));
        return new Server(shared, layout::entry,
                client -> {
                    Learner copy = held(plan, "copy/" + client);
                    copy.network().setParams(layout.serverPart(global, client));
                    return copy;
                },
                client -> aligner ? TaskState.read(plan, PREFIX + "buffer/" + client, factory(plan, "buffer/" + client))
                        : held(plan, "buffer/" + client),
                client -> TaskState.held(plan, PREFIX + "auxiliary/" + client, auxiliaryFactory(plan, client, downloads.get(client))),
                client -> ModelZoo.auxiliary(plan.modelOf(client), plan.settings().auxiliary(), plan.settings().auxiliaryHidden(),
                        plan.seed(), org.nd4j.linalg.api.buffer.DataType.DOUBLE));
    }

    /**
     * The error feedback of the server's top-k gradients to client {@code client}, held at the server site
     * across rounds and in its training state; null unless gradients travel top-k.
     */
    static ErrorFeedback feedback(RoundPlan plan, int client) {
        return plan.codecs().sparsifies(Kind.GRADIENTS) ? held(plan, "feedback/" + client) : null;
    }

    /** The training state of the server site, by name, for the driver. */
    static Map<String, HeldCopy> save(RoundPlan plan) {
        return HeldCopy.keep(plan, TaskState.save(plan, PREFIX));
    }

    /** Entry {@code name} (below "server/") of the run, made as its kind says when this executor has none. */
    private static <T> T held(RoundPlan plan, String name) {
        return TaskState.held(plan, PREFIX + name, factory(plan, name));
    }

    @SuppressWarnings("unchecked")
    private static <T> Supplier<T> factory(RoundPlan plan, String name) {
        String kind = name.contains("/") ? name.substring(0, name.indexOf('/')) : name;
        Supplier<?> make = switch (kind) {
            case "shared" -> () -> serverLearner(plan);
            case "copy" -> () -> new Learner(plan.buildModel(Integer.parseInt(name.substring(kind.length() + 1))).server(),
                    plan.serverOptimizer().toUpdater());
            case "buffer" -> () -> new AlignmentBuffer(plan.settings().bufferCapacity());
            case "feedback" -> ErrorFeedback::new;
            case "auxiliary" -> {
                int client = Integer.parseInt(name.substring(kind.length() + 1));
                yield auxiliaryFactory(plan, client, RoundLimits.models(RoundLimits.shapes(plan, client)));
            }
            default -> throw new IllegalArgumentException("no server state named " + PREFIX + name);
        };
        return (Supplier<T>) make;
    }

    /** The server's copy of client i's a_i: from the head the client holds (FSL-SAGE's warm start sends one), else seeded. */
    private static Supplier<Learner> auxiliaryFactory(RoundPlan plan, int client, FrameLimits downloads) {
        return () -> {
            Network aux = auxiliaryNetwork(plan, client);
            byte[] sent = plan.auxiliaryDownloads().get(client);
            if (sent != null) {
                aux.setParams(FrameCodec.decode(sent, downloads).tensor(0).toArray());
            }
            return new Learner(aux, plan.settings().alignOptimizer().toUpdater());
        };
    }

    /**
     * The shared server part x_s, from the shallowest cut on, with an optimizer per segment between the layers where
     * clients' batches enter (one when every client cuts at the same layer).
     */
    static Learner serverLearner(RoundPlan plan) {
        return new Learner(plan.buildModel().server(), plan.serverOptimizer().toUpdater(), plan.layout().entries());
    }

    /** Client {@code client}'s auxiliary model a_i, on its cut's activations. */
    static Network auxiliaryNetwork(RoundPlan plan, int client) {
        return ModelZoo.auxiliary(plan.modelOf(client), plan.settings().auxiliary(), plan.settings().auxiliaryHidden(), plan.seed());
    }

    static INDArray row(float[] values) {
        return Nd4j.create(values, new long[]{1, values.length}, 'c');
    }
}
