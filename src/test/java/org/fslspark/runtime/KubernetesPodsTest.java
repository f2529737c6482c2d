package org.fslspark.runtime;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import org.apache.spark.SecurityManager;
import org.apache.spark.SparkConf;
import org.apache.spark.deploy.k8s.KubernetesConf$;
import org.apache.spark.deploy.k8s.SparkPod;
import org.apache.spark.deploy.k8s.submit.JavaMainAppResource;
import org.apache.spark.deploy.k8s.submit.KubernetesDriverBuilder;
import org.apache.spark.internal.config.package$;
import org.apache.spark.resource.ResourceProfile$;
import org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBuilder;
import org.fslspark.testbed.Topology;
import org.fslspark.testbed.TopologyLoader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The driver and executor pods Spark 3.5.5 would create on Kubernetes, built by Spark's own
 * builders (KubernetesDriverBuilder, KubernetesExecutorBuilder: the code spark-submit and the
 * driver run) from the settings jobs/submit passes for {@code k8s --overlay conf/spark/k8s.properties
 * --gpu} and the pod templates in conf/spark/k8s. No cluster:
 * nothing is sent to an API server. And an executor's site read from its node's labels through
 * fabric8's mock API server.
 */
class KubernetesPodsTest {
    private static final String WORK_DIR = "/opt/spark/work-dir";
    private static final String SECRET = "a-secret-never-in-a-pod-spec";
    private static SparkConf conf;
    private static KubernetesClient offline;

    @BeforeAll
    static void settings() throws Exception {
        conf = submitted();
        // The builders only read templates with the client; it never connects.
        offline = new KubernetesClientBuilder().withConfig(new ConfigBuilder().withMasterUrl("https://127.0.0.1:1").build()).build();
    }

    @AfterAll
    static void close() {
        offline.close();
        ResourceProfile$.MODULE$.clearDefaultProfile();
    }

    /** The Spark settings of the jobs/submit command line (its --dry-run), as spark-submit would set them. */
    private static SparkConf submitted() throws IOException, InterruptedException {
        Path sparkHome = Files.createTempDirectory("spark-home");
        ProcessBuilder pb = new ProcessBuilder("jobs/submit", "k8s", "--dry-run", "--master", "k8s://https://127.0.0.1:6443",
                "--overlay", "conf/spark/k8s.properties", "--gpu",
                "--", "train", "/opt/fsl-spark/conf/quickstart.conf");
        pb.environment().put("SPARK_HOME", sparkHome.toString());
        pb.environment().remove("SPARK_CONF_DIR");
        pb.redirectError(ProcessBuilder.Redirect.DISCARD);
        Process p = pb.start();
        List<String> lines = new String(p.getInputStream().readAllBytes()).lines().toList();
        assertTrue(p.waitFor(2, TimeUnit.MINUTES) && p.exitValue() == 0, "jobs/submit failed: " + lines);
        SparkConf c = new SparkConf(false).setAppName("fsl-spark test").set("spark.submit.deployMode", "cluster");
        for (int i = 0; i + 1 < lines.size(); i++) {
            String value = lines.get(i + 1);
            switch (lines.get(i)) {
                case "--conf" -> c.set(value.substring(0, value.indexOf('=')), value.substring(value.indexOf('=') + 1));
                case "--master" -> c.setMaster(value);
                default -> { }
            }
        }
        return c;
    }

    private static SparkPod executorPod(SparkConf c) throws IOException {
        var executorConf = KubernetesConf$.MODULE$.createExecutorConf(c, "1", "spark-app-1", scala.Option.empty(), 0);
        // The driver builds executor pods and reads the secret from the Secret mounted in its own pod
        // (spark.authenticate.secret.file): here that file is a local one with a known value.
        Path secret = Files.writeString(Files.createTempFile("spark-secret", ""), SECRET);
        var security = new SecurityManager(c.clone().set("spark.authenticate.secret.file", secret.toString()), scala.Option.empty(),
                package$.MODULE$.AUTH_SECRET_FILE_EXECUTOR());
        return new KubernetesExecutorBuilder().buildFromFeatures(executorConf, security, offline,
                ResourceProfile$.MODULE$.reInitDefaultProfile(c)).pod();
    }

    @Test
    void theExecutorPodHasItsServiceAccountItsGpuItsNodesSiteAndAWritableWorkDirectory() throws IOException {
        SparkPod pod = executorPod(conf);
        Pod p = pod.pod();
        Container c = pod.container();

        // The service account that may get nodes; without the key, Spark gives executors the driver's.
        assertEquals("fsl-spark-executor", p.getSpec().getServiceAccountName());
        SparkConf without = conf.clone().remove("spark.kubernetes.authenticate.executor.serviceAccountName");
        assertEquals("fsl-spark", executorPod(without).pod().getSpec().getServiceAccountName());
        // ... and rbac.yaml lets exactly that account get nodes.
        List<HasMetadata> rbac;
        try (InputStream in = new FileInputStream("conf/spark/k8s/rbac.yaml")) {
            rbac = offline.load(in).items();
        }
        ClusterRole role = (ClusterRole) rbac.stream().filter(r -> r instanceof ClusterRole).findFirst().orElseThrow();
        assertTrue(role.getRules().stream().anyMatch(r -> r.getResources().contains("nodes") && r.getVerbs().contains("get")));
        ClusterRoleBinding binding = (ClusterRoleBinding) rbac.stream().filter(r -> r instanceof ClusterRoleBinding).findFirst().orElseThrow();
        assertEquals(role.getMetadata().getName(), binding.getRoleRef().getName());
        assertEquals("fsl-spark-executor", binding.getSubjects().get(0).getName());
        assertEquals(conf.get("spark.kubernetes.namespace"), binding.getSubjects().get(0).getNamespace());

        // One GPU from the NVIDIA device plugin.
        assertEquals("1", c.getResources().getLimits().get("nvidia.com/gpu").getAmount());

        // The site: nodes labelled by the topology's node selector key; the executor reads its node's value.
        Topology topology = TopologyLoader.load(Path.of("conf/testbeds/aiedge.conf").toFile());
        String key = env(c, Placement.SITE_NODE_LABEL_ENV).getValue();
        for (Topology.Site s : topology.sites().values()) {
            assertEquals(s.executors().label(), s.executors().kubernetesNodeSelector().get(key), s.id());
        }
        assertEquals("spec.nodeName", env(c, Placement.NODE_NAME_ENV).getValueFrom().getFieldRef().getFieldPath());
        var terms = p.getSpec().getAffinity().getNodeAffinity().getRequiredDuringSchedulingIgnoredDuringExecution().getNodeSelectorTerms();
        assertEquals(key, terms.get(0).getMatchExpressions().get(0).getKey());
        assertEquals("Exists", terms.get(0).getMatchExpressions().get(0).getOperator());
        assertTrue(p.getSpec().getInitContainers() == null || p.getSpec().getInitContainers().isEmpty(), "no init container, no kubectl image");

        assertSecretMountedNotInEnvironment(p, c);
        assertWritableWorkDirectory(p, c);
    }

    @Test
    void theDriverPodRunsAtTheServerSiteWithTheSecretMountedAndAWritableWorkDirectory() {
        var driverConf = KubernetesConf$.MODULE$.createDriverConf(conf, "spark-app-1",
                new JavaMainAppResource(scala.Option.apply("local:///opt/fsl-spark/fsl-spark-cluster.jar")),
                "org.fslspark.cli.Main", new String[]{"train", "/opt/fsl-spark/conf/quickstart.conf"}, scala.Option.empty());
        SparkPod pod = new KubernetesDriverBuilder().buildFromFeatures(driverConf, offline).pod();
        Pod p = pod.pod();
        assertEquals("fsl-spark", p.getSpec().getServiceAccountName());
        assertEquals(Map.of("fsl-spark/site", "osu"), p.getSpec().getNodeSelector());
        // The driver asks for no GPU.
        assertTrue(pod.container().getResources().getLimits().keySet().stream().noneMatch(k -> k.contains("gpu")));
        assertSecretMountedNotInEnvironment(p, pod.container());
        assertWritableWorkDirectory(p, pod.container());
    }

    /** Spark's secret comes from the Secret fsl-spark-auth as a file, never as an environment variable. */
    private static void assertSecretMountedNotInEnvironment(Pod p, Container c) {
        Volume secret = p.getSpec().getVolumes().stream().filter(v -> v.getSecret() != null
                && "fsl-spark-auth".equals(v.getSecret().getSecretName())).findFirst().orElseThrow();
        String file = conf.get("spark.authenticate.secret.file");
        assertTrue(c.getVolumeMounts().stream().anyMatch(m -> m.getName().equals(secret.getName())
                && file.startsWith(m.getMountPath() + "/")), c.getVolumeMounts().toString());
        assertTrue(c.getEnv().stream().noneMatch(e -> e.getName().equals(SecurityManager.ENV_AUTH_SECRET())
                || SECRET.equals(e.getValue())), c.getEnv().toString());
    }

    /** Spark's images run as uid 185: the working directory is an emptyDir, writable whatever the image's owner. */
    private static void assertWritableWorkDirectory(Pod p, Container c) {
        assertEquals(185L, p.getSpec().getSecurityContext().getRunAsUser());
        assertEquals(WORK_DIR, c.getWorkingDir());
        String volume = c.getVolumeMounts().stream().filter(m -> m.getMountPath().equals(WORK_DIR)).findFirst().orElseThrow().getName();
        assertNotNull(p.getSpec().getVolumes().stream().filter(v -> v.getName().equals(volume)).findFirst().orElseThrow().getEmptyDir());
    }

    private static EnvVar env(Container c, String name) {
        return c.getEnv().stream().filter(e -> e.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError(name + " missing from " + c.getEnv()));
    }

    @Test
    void anExecutorReadsItsSiteFromItsNodesLabelAndSaysWhatToDoWhenRefused() throws Exception {
        KubernetesMockServer api = new KubernetesMockServer(false);
        api.init(InetAddress.getLoopbackAddress(), 0);
        try (KubernetesClient client = api.createClient()) {
            api.expect().get().withPath("/api/v1/nodes/gpu-7").andReturn(200,
                    new NodeBuilder().withNewMetadata().withName("gpu-7").addToLabels("fsl-spark/site", "utaustin").endMetadata().build()).once();
            assertEquals("utaustin", NodeSite.read(client, "gpu-7", "fsl-spark/site"));

            api.expect().get().withPath("/api/v1/nodes/gpu-8").andReturn(200,
                    new NodeBuilder().withNewMetadata().withName("gpu-8").endMetadata().build()).once();
            String unlabelled = assertThrows(Placement.PlacementException.class, () -> NodeSite.read(client, "gpu-8", "fsl-spark/site")).getMessage();
            assertTrue(unlabelled.contains("has no label fsl-spark/site"), unlabelled);

            // The driver's service account (no `get nodes`): refused, and the message says what to apply.
            api.expect().get().withPath("/api/v1/nodes/gpu-9").andReturn(403, "{\"kind\":\"Status\",\"code\":403}").once();
            String refused = assertThrows(Placement.PlacementException.class, () -> NodeSite.read(client, "gpu-9", "fsl-spark/site")).getMessage();
            assertTrue(refused.contains("HTTP 403") && refused.contains("rbac.yaml"), refused);
        } finally {
            api.destroy();
        }
    }
}
