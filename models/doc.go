// Package models is the zoo of image classifiers ebyd trains and defends,
// each with the exact parameter names of its PyTorch reference definition so
// that state_dicts move between ebyd and PyTorch unchanged.
//
//	mnistnet        the PyTorch examples MNIST net (conv1, conv2, fc1, fc2)
//	resnet18        CIFAR ResNet-18 of kuangliu/pytorch-cifar, EBYD and RNP
//	resnet18-tv     torchvision's ResNet-18 (7×7 stem, max pool, downsample, fc)
//	preactresnet18  BackdoorBench's PreActResNet-18 (with the final bn)
//	vgg16           kuangliu's VGG16 with BatchNorm (features.N, classifier)
//	vgg16-tv        torchvision's vgg16 (7×7 adaptive pool, classifier.0/.3/.6)
//	vgg16bn-tv      torchvision's vgg16_bn
//	mobilenetv2     kuangliu's CIFAR MobileNetV2
//	mobilenetv2-tv  torchvision's MobileNetV2 (features.N, ReLU6, classifier.1)
//
// Input channels, classes, input size and a width (the first layer's channel
// count; every other width scales with it) are parameters, so the same code
// serves MNIST and CIFAR, and the parity tests use narrow copies of each net.
// Networks end in global average pooling where the references use a fixed
// 4×4 average pool; both are equal at the reference input size (32×32), and
// global pooling also serves other sizes. Outputs are logits: the MNIST
// example's log_softmax is left to the loss, which does not change argmax.
package models
