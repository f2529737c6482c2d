package org.fslspark.runtime;

import org.fslspark.algorithm.AlignmentBuffer;
import org.fslspark.algorithm.Learner;
import org.fslspark.algorithm.Server;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.Network;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.FrameLimits;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The server site's state for a round, backed by its executor's memory across rounds: the server
 * model and its optimizer, per-client copies (SplitFed-V1), alignment buffers and auxiliary models
 * (FSL-SAGE). Each round's server part starts from the driver's global x_s.
 */
final class ServerState {
    private ServerState() {
    }

    static Server forRound(RoundPlan plan) {
        String key = plan.runId() + "/server/";
        INDArray global = row(plan.globalServer());
        Learner shared = TaskState.get(key + "shared", () -> serverLearner(plan));
        shared.network().setParams(global);
        return withShared(plan, shared);
    }

    /** The server's per-client state around a given server learner (alignment tasks bring their own copy of x_s). */
    static Server withShared(RoundPlan plan, Learner shared) {
        String key = plan.runId() + "/server/";
        INDArray global = row(plan.globalServer());
        // Checked like any frame from another site; computed here, as TaskState.get must not nest.
        FrameLimits downloads = plan.auxiliaryDownloads().isEmpty() ? null : RoundLimits.models(RoundLimits.shapes(plan));
        return new Server(shared,
                client -> {
                    Learner copy = TaskState.get(key + "copy/" + client, () -> serverLearner(plan));
                    copy.network().setParams(global);
                    return copy;
                },
                client -> TaskState.get(key + "buffer/" + client,
                        () -> new AlignmentBuffer(plan.settings().bufferCapacity())),
                client -> TaskState.get(key + "auxiliary/" + client, () -> {
                    // Starts from the head the client holds (FSL-SAGE's warm start sends one), else the seeded init.
                    Network aux = auxiliaryNetwork(plan);
                    byte[] sent = plan.auxiliaryDownloads().get(client);
                    if (sent != null) {
                        aux.setParams(FrameCodec.decode(sent, downloads).tensor(0).toArray());
                    }
                    return new Learner(aux, plan.settings().alignOptimizer().toUpdater());
                }));
    }

    static Learner serverLearner(RoundPlan plan) {
        return new Learner(plan.buildModel().server(), plan.serverOptimizer().toUpdater());
    }

    static Network auxiliaryNetwork(RoundPlan plan) {
        return ModelZoo.auxiliary(plan.model(), plan.settings().auxiliary(), plan.settings().auxiliaryHidden(), plan.seed());
    }

    static INDArray row(float[] values) {
        return Nd4j.create(values, new long[]{1, values.length}, 'c');
    }
}
