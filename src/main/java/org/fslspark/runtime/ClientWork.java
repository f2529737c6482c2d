package org.fslspark.runtime;

import org.fslspark.algorithm.Algorithm;
import org.fslspark.algorithm.Client;
import org.fslspark.algorithm.Learner;
import org.fslspark.algorithm.ServerLink;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.SplitModel;

import java.util.Random;

/** The client side of a round, common to every data path: the local epochs over the site's own data. */
final class ClientWork {
    private ClientWork() {
    }

    /** The client's networks and optimizers, kept in its executor across rounds. */
    static Client client(RoundPlan plan, Algorithm algorithm, int id) {
        return TaskState.get(plan.runId() + "/client/" + id, () -> {
            SplitModel m = ModelZoo.split(plan.model(), plan.seed());
            Learner top = algorithm.flow() == Algorithm.Flow.LOCAL
                    ? new Learner(m.server(), plan.clientOptimizer().toUpdater()) : null;
            return new Client(id, new Learner(m.client(), plan.clientOptimizer().toUpdater()), top, null);
        });
    }

    /** The client's partition, read once by its own task and kept in its executor. */
    static SiteData data(RoundPlan plan, int id) {
        String institute = plan.institutes().get(id);
        Placement.requireSite(institute);
        return TaskState.get(plan.runId() + "/data/" + id,
                () -> SiteData.read(plan.hadoopConf(), plan.dataLocations().get(id), institute));
    }

    /** Runs E local epochs; k counts local iterations across them from 0. */
    static void train(RoundPlan plan, Algorithm algorithm, Client client, SiteData data, ServerLink server) {
        long k = 0;
        for (int epoch = 0; epoch < plan.localEpochs(); epoch++) {
            Random order = new Random(plan.seed() * 1_000_003L + plan.round() * 7919L + client.id() * 131L + epoch);
            for (int[] indices : data.epoch(plan.batchSize(), order)) {
                algorithm.clientStep(client, data.batch(indices), k++, server);
            }
        }
    }
}
