# Sourced by bin/fsl and jobs/*: the JVM options Spark and ND4J need on Java 17.
# shellcheck shell=bash
fsl_opens=(--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/sun.util.calendar=ALL-UNNAMED --add-exports=java.base/sun.security.action=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED)
# ND4J's off-heap memory is capped deliberately (JavaCPP counts every native buffer against
# maxbytes and the whole process against maxphysicalbytes), not left to its defaults. The process
# cap leaves about 2 GiB above heap and ND4J's buffers for the JVM itself, the native libraries and
# the allocator's arenas: at 5g a language-model run with both full failed during alignment.
fsl_memory=(-Dorg.bytedeco.javacpp.maxbytes=${FSL_OFFHEAP:-2g} -Dorg.bytedeco.javacpp.maxphysicalbytes=${FSL_PHYSICAL:-6g})
# The oneDNN build of libnd4j (see docs/PERFORMANCE.md); FSL_ND4J_EXTENSION= selects the plain one.
fsl_natives=(-Dorg.bytedeco.javacpp.platform.extension=${FSL_ND4J_EXTENSION--onednn})
