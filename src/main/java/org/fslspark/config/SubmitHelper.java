package org.fslspark.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;

import java.io.File;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * What jobs/submit asks before it calls spark-submit, answered with the libraries that read these
 * files for real (Typesafe Config, java.util.Properties as Spark does) rather than by the shell. Runs
 * from the application jar without Spark or Hadoop on the class path.
 *
 * <pre>
 *   topology CONFIG [KEY=VALUE]...   the experiment's testbed.topology when it is a local path (else nothing)
 *   property FILE KEY...              KEY=VALUE for each KEY a Spark properties file sets (nothing when no file)
 *   properties FILE...                KEY=VALUE for every key the files set, a later file's value over an earlier one's
 * </pre>
 */
public final class SubmitHelper {
    private SubmitHelper() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length >= 2 && args[0].equals("topology")) {
            String topology = localTopology(new File(args[1]), Arrays.asList(args).subList(2, args.length));
            if (!topology.isEmpty()) {
                System.out.println(topology);
            }
        } else if (args.length >= 3 && args[0].equals("property")) {
            for (String key : Arrays.asList(args).subList(2, args.length)) {
                String value = property(Path.of(args[1]), key);
                if (value != null) {
                    System.out.println(key + "=" + value);
                }
            }
        } else if (args.length >= 2 && args[0].equals("properties")) {
            Map<String, String> merged = new LinkedHashMap<>();
            for (String file : Arrays.asList(args).subList(1, args.length)) {
                merged.putAll(properties(Path.of(file)));
            }
            merged.forEach((k, v) -> System.out.println(k + "=" + v));
        } else {
            System.err.println("usage: SubmitHelper topology CONFIG [KEY=VALUE]... | property FILE KEY... | properties FILE...");
            System.exit(2);
        }
    }

    /** testbed.topology after the overrides, when it names a local file (a path without a scheme); else "". */
    static String localTopology(File config, List<String> overrides) {
        Config merged = ExperimentLoader.parseOverrides(overrides)
                .withFallback(ConfigFactory.parseFile(config, ConfigParseOptions.defaults().setAllowMissing(false)))
                .withFallback(ExperimentLoader.defaults()).resolve();
        String topology = merged.getString("testbed.topology").trim();
        return topology.isEmpty() || topology.matches("[a-zA-Z][a-zA-Z0-9+.-]*:.*") ? "" : topology;
    }

    /** A key of a Spark properties file, read as Spark reads it (java.util.Properties, values trimmed). */
    static String property(Path file, String key) throws IOException {
        return Files.isRegularFile(file) ? properties(file).get(key) : null;
    }

    /**
     * Every key of a Spark properties file with its trimmed value, as Spark reads it
     * (java.util.Properties), in the order the file first sets them.
     */
    static Map<String, String> properties(Path file) throws IOException {
        Map<String, String> ordered = new LinkedHashMap<>();
        Properties p = new Properties() {
            @Override
            public synchronized Object put(Object key, Object value) {
                ordered.put((String) key, ((String) value).trim());
                return super.put(key, value);
            }
        };
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        }
        return ordered;
    }
}
