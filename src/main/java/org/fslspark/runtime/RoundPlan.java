package org.fslspark.runtime;

import org.fslspark.algorithm.Algorithm;
import org.fslspark.algorithm.AlgorithmSettings;
import org.fslspark.algorithm.Algorithms;
import org.fslspark.algorithm.ServerOrder;
import org.fslspark.config.OptimizerSpec;
import org.fslspark.model.CutLayout;
import org.fslspark.model.ModelInit;
import org.fslspark.model.ModelSpec;
import org.fslspark.model.SplitModel;
import org.fslspark.transport.Codecs;
import org.fslspark.transport.Tls;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.Serializable;
import java.util.List;
import java.util.Map;

/**
 * Everything the tasks of one round need, shipped from the driver: the rules to follow, the data
 * locations, and the global model at the start of the round.
 *
 * @param init         where the model starts (under LoRA the frozen base every site builds)
 * @param globalClient client part x_c (flat)
 * @param globalServer server part x_s (flat)
 * @param auxiliaryDownloads encoded auxiliary models each client receives at the start of the round
 *                           (aligned a_i for FSL-SAGE, the averaged head for CSE-FSL), by client
 * @param testbed            the test-bed's links and placement rules ({@link TestbedPlan#NONE} without one)
 * @param restore            the executors' training state to rebuild from where an executor does not hold it
 *                           ({@link HeldState} by name); only the first round of a resumed run and a rerun of a failed round carry it
 * @param collectState       whether the tasks return their training state at the end of the round (it is checkpointed,
 *                           or a failed next round would be rerun from it)
 * @param trace              where to write {@link Trace} files ("" = off)
 * @param attempt            which attempt at this round this is, from 0 (a failed round is rerun)
 * @param generation         which copy of the executors' state the tasks use ({@link TaskState}): it changes when a
 *                           rerun rebuilds that state from {@code restore}, so nothing a failed attempt changed is used
 * @param versions           the newest version of every training-state entry that exists ({@link TaskState#version}), by
 *                           name: a task that finds an older one, or none, restores it from {@code restore} or fails
 * @param participants       the clients that take part in the round, in client order (an institute whose site is lost
 *                           sits rounds out, {@code fault.min-institutes}); every client without drop-outs
 * @param faults             the run's fault settings, with the test-only hooks ({@link FaultHook})
 * @param tls                the keys of mutual TLS on the links between sites; null = plain TCP
 * @param codecs             how activations, gradients and models travel between sites
 * @param cuts               each client's cut in the model's units when sites cut at different layers (docs/CUTS.md),
 *                           {@code model}'s being the shallowest; empty when every client cuts at {@code model}'s cut
 * @param stateFiles         the directory of the round's checkpoint where the executors write the training state they
 *                           return ({@link HeldCopy#keep}), or "" to return it inline
 */
public record RoundPlan(String runId, int round, String algorithm, AlgorithmSettings settings, ModelSpec model,
                        ModelInit init,
                        OptimizerSpec clientOptimizer,
                        OptimizerSpec serverOptimizer, int batchSize, int localEpochs, long seed,
                        List<String> institutes, List<String> dataLocations, String serverSite, ServerOrder serverOrder,
                        Map<String, String> hadoopConf, float[] globalClient, float[] globalServer,
                        Map<Integer, byte[]> auxiliaryDownloads, TestbedPlan testbed, Map<String, HeldCopy> restore,
                        boolean collectState, String trace, int attempt, long generation, Map<String, String> versions,
                        List<Integer> participants, org.fslspark.config.Experiment.Faults faults, Tls.KeyFiles tls, Codecs codecs,
                        List<Integer> cuts, String stateFiles)
        implements Serializable {

    /** A round whose tensors travel in float32, every client cutting at {@code model}'s cut. */
    public RoundPlan(String runId, int round, String algorithm, AlgorithmSettings settings, ModelSpec model, ModelInit init,
                     OptimizerSpec clientOptimizer, OptimizerSpec serverOptimizer, int batchSize, int localEpochs, long seed,
                     List<String> institutes, List<String> dataLocations, String serverSite, ServerOrder serverOrder,
                     Map<String, String> hadoopConf, float[] globalClient, float[] globalServer,
                     Map<Integer, byte[]> auxiliaryDownloads, TestbedPlan testbed, Map<String, HeldCopy> restore,
                     boolean collectState, String trace, int attempt, long generation, Map<String, String> versions,
                     List<Integer> participants, org.fslspark.config.Experiment.Faults faults, Tls.KeyFiles tls) {
        this(runId, round, algorithm, settings, model, init, clientOptimizer, serverOptimizer, batchSize, localEpochs, seed,
                institutes, dataLocations, serverSite, serverOrder, hadoopConf, globalClient, globalServer, auxiliaryDownloads,
                testbed, restore, collectState, trace, attempt, generation, versions, participants, faults, tls, Codecs.FLOAT32,
                List.of(), "");
    }

    /** A first attempt over plain TCP, without fault hooks, in float32. */
    public RoundPlan(String runId, int round, String algorithm, AlgorithmSettings settings, ModelSpec model, ModelInit init,
                     OptimizerSpec clientOptimizer, OptimizerSpec serverOptimizer, int batchSize, int localEpochs, long seed,
                     List<String> institutes, List<String> dataLocations, String serverSite, ServerOrder serverOrder,
                     Map<String, String> hadoopConf, float[] globalClient, float[] globalServer,
                     Map<Integer, byte[]> auxiliaryDownloads, TestbedPlan testbed, Map<String, HeldCopy> restore,
                     boolean collectState, String trace) {
        this(runId, round, algorithm, settings, model, init, clientOptimizer, serverOptimizer, batchSize, localEpochs, seed,
                institutes, dataLocations, serverSite, serverOrder, hadoopConf, globalClient, globalServer, auxiliaryDownloads,
                testbed, restore, collectState, trace, 0, 0, Map.of(),
                java.util.stream.IntStream.range(0, institutes.size()).boxed().toList(), org.fslspark.config.Experiment.Faults.NONE, null,
                Codecs.FLOAT32, List.of(), "");
    }

    /** The rules this round follows. */
    public Algorithm rules() {
        return Algorithms.byName(algorithm, settings);
    }

    /** This round's model as a site builds it, split at the global split; the round's global vectors are then set into it. */
    public SplitModel buildModel() {
        return init.split(model, seed, SiteData.hadoopConf(hadoopConf));
    }

    /** The model as client {@code client} cuts it. */
    public ModelSpec modelOf(int client) {
        return cuts.isEmpty() ? model : model.withCut(cuts.get(client));
    }

    /** The model as client {@code client} builds it: its part is the first side, the server's part for it the second. */
    public SplitModel buildModel(int client) {
        return cuts.isEmpty() ? buildModel() : init.split(modelOf(client), seed, SiteData.hadoopConf(hadoopConf));
    }

    /** Where each client's part ends, in layers and parameters; computed once per model, cuts and executor. */
    public CutLayout layout() {
        // A cache of its own: TaskState's may be computing an entry that asks for the layout.
        return LAYOUTS.computeIfAbsent(model + " " + init + " " + cuts + " " + institutes.size(),
                k -> CutLayout.of(buildModel(), CutLayout.layerCuts(model, cuts, clients())));
    }

    private static final Map<String, CutLayout> LAYOUTS = new java.util.concurrent.ConcurrentHashMap<>();

    /** Client {@code client}'s part of the round's global model: x_c, and x_s's layers up to its cut when it cuts deeper. */
    public INDArray clientModel(int client) {
        INDArray c = ServerState.row(globalClient);
        return cuts.isEmpty() ? c : layout().clientPart(c, ServerState.row(globalServer), client);
    }

    public boolean traced() {
        return !trace.isEmpty();
    }

    public int clients() {
        return institutes.size();
    }

    /** The sites of the participants, in their order. */
    public List<String> participantSites() {
        return participants.stream().map(institutes::get).toList();
    }

    /** Client {@code i}'s emulated link to the server site, null when links are not emulated. */
    public org.fslspark.transport.SiteLink link(int client) {
        return testbed.link(institutes.get(client));
    }
}
