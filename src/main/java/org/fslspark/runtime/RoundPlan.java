package org.fslspark.runtime;

import org.fslspark.algorithm.ServerOrder;
import org.fslspark.config.OptimizerSpec;
import org.fslspark.model.ModelSpec;

import java.io.Serializable;
import java.util.List;
import java.util.Map;

/**
 * Everything the tasks of one round need, shipped from the driver: the rules to follow, the data
 * locations, and the global model at the start of the round.
 *
 * @param globalClient client part x_c (flat)
 * @param globalServer server part x_s (flat)
 */
public record RoundPlan(String runId, int round, String algorithm, ModelSpec model, OptimizerSpec clientOptimizer,
                        OptimizerSpec serverOptimizer, int batchSize, int localEpochs, long seed,
                        List<String> institutes, List<String> dataLocations, String serverSite, ServerOrder serverOrder,
                        Map<String, String> hadoopConf, float[] globalClient, float[] globalServer)
        implements Serializable {

    public int clients() {
        return institutes.size();
    }
}
