package org.fslspark.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a task runs. An executor learns its site from the environment variable FSL_SITE (set on
 * each site's workers, inherited by their executors); without it the executor is a local one that
 * stands for every site, as in local mode. Where executors share one environment (Kubernetes pod
 * templates), FSL_SITE_FILE names a file that holds the site instead.
 */
public final class Placement {
    public static final String SITE_ENV = "FSL_SITE";
    /** A file holding the site, where no per-executor variable can be set (Kubernetes: conf/spark/k8s). */
    public static final String SITE_FILE_ENV = "FSL_SITE_FILE";
    public static final String LOCAL = "local";

    private Placement() {
    }

    public static String executorSite() {
        String site = System.getenv(SITE_ENV);
        String file = System.getenv(SITE_FILE_ENV);
        if ((site == null || site.isBlank()) && file != null) {
            try {
                site = Files.readString(Path.of(file)).trim();
            } catch (IOException e) {
                throw new PlacementException("cannot read this executor's site from " + SITE_FILE_ENV + "=" + file
                        + ": " + e.getMessage());
            }
        }
        return site == null || site.isBlank() ? LOCAL : site;
    }

    /** Fails the task unless this executor belongs to {@code site} (or stands for every site). */
    public static void requireSite(String site) {
        String here = executorSite();
        if (!here.equals(LOCAL) && !here.equals(site)) {
            throw new PlacementException("work of site '" + site + "' was scheduled on an executor of site '" + here
                    + "'; refusing to run it there");
        }
    }

    /** A task ran, or would read data, at the wrong site. */
    public static final class PlacementException extends RuntimeException {
        public PlacementException(String message) {
            super(message);
        }
    }
}
